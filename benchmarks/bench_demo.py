"""`make demo`'s automated part, timed as a newcomer runs it: ``learnerledger demo --no-serve``
in a new home, at Xero's real default limits (60 calls a minute, 5,000 a day, 5 in flight) and
Wisenet's Basic plan, then once more over the same books.

Goals: the first run under 3 minutes on 2 cores; the second finds nothing new to do, says so,
and writes nothing to Wisenet.

Run: python benchmarks/bench_demo.py [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 180.0


def run(home: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNERLEDGER_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "learnerledger", "--home", str(home), "demo", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"learnerledger demo exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def report(text: str) -> list[str]:
    """The demo's closing report: the lines from its heading on."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line == "The report"), len(lines))
    return lines[start:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="learnerledger home (default: a new one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch) / "home"
        first, text = run(home)
        for line in report(text):
            print(line)
        again, rerun = run(home)
        nothing = "Nothing new to do" in rerun
        calls = next((line.strip() for line in report(rerun) if "API calls:" in line), "?")
        print()
        verdict = "met" if first < GOAL_SECONDS else "MISSED"
        print(f"first run:  {first:6.1f} s  (goal < {GOAL_SECONDS:.0f} s: {verdict})")
        said = "said" if nothing else "NOT said"
        print(f"second run: {again:6.1f} s  ('Nothing new to do': {said})")
        print(f"  second run's {calls}")
        print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
