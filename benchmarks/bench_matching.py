"""Duplicate finding on labelled data: learnerledger's matcher beside splink, then at scale.

For each data set (Demo Training Co from the sandbox seed, before and after a sync in
duplicate mode gave its learners contacts of their own, FEBRL 1-4, splink's fake_1000 and
historical figures; see ``matchdata``) it prints the precision and recall of the pairs
``find_duplicates`` marks ``auto`` and of all the pairs it returns (``review``), F1, time and
peak memory; and the same for splink 4 on DuckDB (``matchsplink``), at its usual threshold and
at the threshold that is best on the truth. Then the scale run: N learners against N contacts.

Goals: precision at ``auto`` at least 0.99, recall at ``review`` at least 0.97, F1 (of all pairs
returned) at least 0.90 and above splink's F1 even with its threshold tuned on the truth;
100,000 learners against 100,000 contacts in under 60 s and under 2 GB on 2 cores.

Each measurement runs in a process of its own, so that its peak memory (maxrss: the data as
well as the finder) is its own. ``--stand-in`` measures a naive finder (equal normalised full
names) in place of ``learnerledger.matching``, to check the harness itself.

Run: python benchmarks/bench_matching.py [--stand-in] [--scale N] [--datasets NAME,...]
     [--organisation-scale S] [--no-splink] [--splink-threshold P]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import re
import resource
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import MirroredContact
from matchdata import DATASETS, best_threshold, load, score_pairs

GOAL_PRECISION_AUTO = 0.99
GOAL_RECALL_REVIEW = 0.97
GOAL_F1 = 0.90
GOAL_SCALE = 100_000
GOAL_SECONDS = 60.0
GOAL_MB = 2048.0


# -- the stand-in -----------------------------------------------------------------------------


def full_name_key(text: str) -> str:
    """Case, accents, punctuation and spacing taken out: ``José  O'Brien`` → ``jose obrien``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z ]", "", plain.casefold()).split())


@dataclass(frozen=True)
class StandInPair:
    """A pair in the shape ``find_duplicates`` returns."""

    ref_internal: str
    contact_id: str
    survivor_id: str | None
    score: float
    status: str
    evidence: tuple[str, ...] = ("full name equal",)

    def as_json(self) -> dict[str, Any]:
        return {
            "ref_internal": self.ref_internal,
            "contact_id": self.contact_id,
            "survivor_id": self.survivor_id,
            "score": self.score,
            "status": self.status,
            "evidence": list(self.evidence),
        }


def stand_in_duplicates(
    learners: Iterable[Learner],
    contacts: Iterable[MirroredContact],
    survivors: Mapping[str, str] | None = None,
    settings: object = None,
) -> Iterator[StandInPair]:
    """Every contact whose Name equals a learner's "First Last" once normalised, as ``auto``."""
    survivors = survivors or {}
    by_name: dict[str, list[Learner]] = {}
    for learner in learners:
        key = full_name_key(f"{learner.first_name} {learner.last_name}")
        by_name.setdefault(key, []).append(learner)
    own = set(survivors.values())
    for c in contacts:
        if c.contact_id in own:
            continue
        for learner in by_name.get(full_name_key(c.name), ()):
            survivor = survivors.get(learner.ref_internal)
            yield StandInPair(learner.ref_internal, c.contact_id, survivor, 1.0, "auto")


# -- one measurement, in its own process ------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _own(pair: tuple[str, str], survivors: Mapping[str, str]) -> bool:
    return survivors.get(pair[0]) == pair[1]


def measure(finder: str, spec: str, threshold: float) -> dict[str, Any]:
    """Load ``spec``, run ``finder`` on it, and score the answer against the truth."""
    try:
        data = load(spec)
    except (ImportError, FileNotFoundError) as exc:
        return {"skipped": f"{spec}: {exc}"}
    result: dict[str, Any] = {
        "dataset": data.describe(),
        "learners": len(data.learners),
        "contacts": len(data.contacts),
        "truth": len(data.truth),
        "base_mb": _peak_mb(),
    }
    if finder == "splink":
        from matchsplink import run_splink

        logging.getLogger("splink").setLevel(logging.ERROR)
        started = time.perf_counter()
        found = run_splink(data)
        result["seconds"] = time.perf_counter() - started
        # splink is not told which contact is the learner's own; leave those pairs out for it.
        scored = [(p, pair) for p, pair in found.scored if not _own(pair, data.survivors)]
        kept = [pair for p, pair in scored if p >= threshold]
        cut, tuned = best_threshold(scored, data.truth)
        result |= {"at": score_pairs(kept, data.truth).as_json(), "tuned": tuned.as_json()}
        result["tuned_threshold"] = cut
    else:
        if finder == "stand-in":
            find = stand_in_duplicates
        else:
            from learnerledger.matching import find_duplicates as find  # type: ignore[no-redef]
        started = time.perf_counter()
        pairs = list(find(data.learners, data.contacts, survivors=data.survivors or None))
        result["seconds"] = time.perf_counter() - started
        result["load"] = os.getloadavg()[0]  # a shared machine's other work slows the run
        auto = [(p.ref_internal, p.contact_id) for p in pairs if p.status == "auto"]
        review = [(p.ref_internal, p.contact_id) for p in pairs]
        result |= {
            "auto": score_pairs(auto, data.truth).as_json(),
            "review": score_pairs(review, data.truth).as_json(),
        }
    result["peak_mb"] = _peak_mb()
    return result


def _in_process(finder: str, spec: str, threshold: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", finder, spec]
    command += ["--splink-threshold", str(threshold)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"failed": f"{finder} on {spec} exited {done.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# -- printing ------------------------------------------------------------------------------------

_ROW = "  {:<26} {:>8} {:>9} {:>7} {:>6} {:>8} {:>8}"


def _row(label: str, scores: Mapping[str, Any], seconds: float | None, peak: float | None) -> str:
    row = _ROW.format(
        label,
        f"{scores['predicted']:,}",
        f"{scores['precision']:.3f}",
        f"{scores['recall']:.3f}",
        f"{scores['f1']:.3f}",
        "" if seconds is None else f"{seconds:.1f} s",
        "" if peak is None else f"{peak:.0f}",
    )
    return row.rstrip()


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _report(ours: dict[str, Any] | None, label: str, theirs: dict[str, Any] | None) -> None:
    header = next(
        (r["dataset"] for r in (ours, theirs) if r and "dataset" in r),
        None,
    )
    problems = [r.get("skipped") or r.get("failed") for r in (ours, theirs) if r]
    if header is None:
        print(f"== {problems[0] if problems else 'nothing measured'}")
        return
    print(f"== {header}")
    print(_ROW.format("finder", "pairs", "precision", "recall", "F1", "time", "peak MB"))
    for problem in filter(None, problems):
        print(f"  {problem}")
    if ours and "auto" in ours:
        print(_row(f"{label} auto", ours["auto"], None, None))
        print(_row(f"{label} review", ours["review"], ours["seconds"], ours["peak_mb"]))
    if theirs and "at" in theirs:
        at = f"splink p>={theirs['threshold']:.2f}"
        print(_row(at, theirs["at"], theirs["seconds"], theirs["peak_mb"]))
        cut = theirs["tuned_threshold"]
        print(_row(f"splink tuned p>={cut:.4g}", theirs["tuned"], None, None))
    if ours and "auto" in ours:
        f1 = ours["review"]["f1"]
        goals = [
            f"precision@auto>={GOAL_PRECISION_AUTO} "
            + _verdict(ours["auto"]["precision"] >= GOAL_PRECISION_AUTO),
            f"recall@review>={GOAL_RECALL_REVIEW} "
            + _verdict(ours["review"]["recall"] >= GOAL_RECALL_REVIEW),
            f"F1>={GOAL_F1:.2f} " + _verdict(f1 >= GOAL_F1),
        ]
        if theirs and "tuned" in theirs:
            goals.append("F1>splink tuned " + _verdict(f1 > theirs["tuned"]["f1"]))
        print("  goals: " + ", ".join(goals))


def _scale_report(result: dict[str, Any], label: str, size: int) -> None:
    if "seconds" not in result:
        print(f"  {result.get('skipped') or result.get('failed')}")
        return
    cores = len(os.sched_getaffinity(0))
    seconds, peak = result["seconds"], result["peak_mb"]
    load = result.get("load")
    print(
        f"  {label}: {result['learners']:,} learners x {result['contacts']:,} contacts, "
        f"{seconds:.1f} s, peak {peak:.0f} MB (data alone {result['base_mb']:.0f} MB), "
        f"{cores} cores"
        + (f", load average {load:.2f} (other work on the machine)" if load else "")
    )
    review = result["review"]
    print(
        f"  {review['predicted']:,} pairs; precision at auto {result['auto']['precision']:.3f}, "
        f"recall at review {review['recall']:.3f}"
    )
    if size < GOAL_SCALE:
        print(
            f"  goals (under {GOAL_SECONDS:.0f} s, under {GOAL_MB / 1024:.0f} GB) are set for "
            f"{GOAL_SCALE:,} x {GOAL_SCALE:,}: run with --scale {GOAL_SCALE}"
        )
        return
    print(
        f"  goals: time under {GOAL_SECONDS:.0f} s: {_verdict(seconds < GOAL_SECONDS)}; "
        f"peak memory under {GOAL_MB / 1024:.0f} GB: {_verdict(peak < GOAL_MB)}"
    )


# -- the run ----------------------------------------------------------------------------------


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stand-in", action="store_true", help="measure the naive finder")
    parser.add_argument("--scale", type=int, default=10_000, help="learners and contacts")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated")
    parser.add_argument("--organisation-scale", type=float, default=10.0)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--splink-threshold", type=float, default=0.5)
    parser.add_argument("--measure", nargs=2, metavar=("FINDER", "DATASET"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    if args.measure:
        finder, spec = args.measure
        result = measure(finder, spec, args.splink_threshold)
        result["threshold"] = args.splink_threshold
        print(json.dumps(result))
        return
    if args.stand_in:
        finder: str | None = "stand-in"
        print("finder: the stand-in (equal normalised full names), not learnerledger's matcher")
    elif importlib.util.find_spec("learnerledger.matching") is not None:
        finder = "learnerledger"
    else:
        finder = None
        print(
            "learnerledger.matching is not in this tree: only splink is measured "
            "(--stand-in measures a naive finder instead)"
        )
    splink = not args.no_splink and importlib.util.find_spec("splink") is not None
    if not args.no_splink and not splink:
        print("splink is not installed (pip install -e '.[bench]'): only the finder is measured")
    label = finder or ""
    for name in args.datasets.split(","):
        spec = name
        if name.startswith("organisation"):
            spec = f"{name}:{args.organisation_scale:g}"
        ours = _in_process(finder, spec, args.splink_threshold) if finder else None
        theirs = _in_process("splink", spec, args.splink_threshold) if splink else None
        _report(ours, label, theirs)
    print(f"== scale run: {args.scale:,} learners against {args.scale:,} contacts")
    if finder is None:
        print("  skipped: no finder to measure")
        return
    _scale_report(_in_process(finder, f"scale:{args.scale}:{args.scale}", 0.5), label, args.scale)


if __name__ == "__main__":
    main()
