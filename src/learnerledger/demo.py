"""``learnerledger demo``: the whole flow on seeded sandboxes, narrated, then a short report.

The demo keeps its state under ``HOME/demo``: both sandboxes' books and learnerledger's own
store. Both sandboxes hold the same made-up training provider: the Wisenet sandbox its learners,
the Xero sandbox the contacts its finance team typed in by hand over the years, with their
invoices and payments. The demo connects learnerledger to both exactly as an integrator would
(a custom connection for Xero, an API key for Wisenet) and runs the flow over HTTP: pull the
learners, mirror the contacts, sync the learners in adopt mode, find the duplicates, confirm
the confident ones, play a person's review of the rest, merge through the API, play the
worklist's human Merge in the sandbox's Xero screens, verify, resync the documents and
reconcile both sides.

Run again, the demo reopens the same books and runs the same flow over them: nothing is left to
do, and it says so. ``fresh=True`` (``learnerledger demo --fresh``) starts over from freshly
seeded sandboxes, as does a demo whose last run did not finish or whose ports are taken.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from learnerledger.config import Config, load_config
from learnerledger.jobs import ProgressListener
from learnerledger.merge import decide, find_duplicates_job, merge_apply, merge_verify
from learnerledger.resync import WisenetTarget, reconcile, resync_documents
from learnerledger.resync.budget import WisenetDayBudget
from learnerledger.sandbox import wisenet as wisenet_sandbox
from learnerledger.sandbox.server import ServerThread, port_is_free
from learnerledger.sandbox.xero import Clock, Limits, SandboxStore, create_app, prepare_store
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.sources.wisenet import connect_wisenet, load_connection, pull_learners
from learnerledger.sources.wisenet import open_client as open_wisenet
from learnerledger.status import collect_status
from learnerledger.store import Store, load_secret_box, open_store
from learnerledger.store.learners import count_learners
from learnerledger.sync import sync_learners
from learnerledger.text import count
from learnerledger.web import create_app as create_web_app
from learnerledger.web.auth import Users
from learnerledger.xero import connect_custom, pull_contacts
from learnerledger.xero.branding import DEFAULT_TEMPLATE_THEME, check_organisation
from learnerledger.xero.client import open_client as open_xero
from learnerledger.xero.connections import find_connection

__all__ = ["DemoResult", "run_demo"]

Echo = Callable[[str], None]

STATE_FILE = "demo.json"  # the ports the sandboxes listen on, and when the flow last finished
REVIEW_ROUNDS = 3  # find -> confirm -> review -> sync, again while new pairs turn up


class DemoResult(dict[str, Any]):
    """The figures the demo printed, for tests and scripts."""


@dataclass(frozen=True)
class _Sandboxes:
    xero: ServerThread
    wisenet: ServerThread


def _start(app: Any, port: int) -> ServerThread:
    free = port != 0 and port_is_free("127.0.0.1", port)
    return ServerThread(app, port=port if free else 0).start()


def _load_state(home: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _save_state(home: Path, **values: Any) -> None:
    state = {**(_load_state(home) or {}), **values}
    (home / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def _why_afresh(home: Path, state: dict[str, Any] | None) -> str | None:
    """Why the demo cannot reopen the books in ``home`` (None: it can)."""
    if state is None:
        return "first run"
    if not state.get("finished"):
        return "the last demo did not finish"
    for name in ("learnerledger.db", "xero-sandbox.db", "wisenet-sandbox.db"):
        if not (home / name).exists():
            return f"{name} is missing"
    ports = state.get("ports") or {}
    for side in ("xero", "wisenet"):
        port = ports.get(side)
        if not isinstance(port, int) or not port_is_free("127.0.0.1", port):
            return f"the {side} sandbox's port {port} is taken"
    return None


def _upload_template(xero_url: str, tenant_id: str) -> None:
    """Play the one step Xero's API cannot do: upload the invoice template in Xero's Invoice
    settings and make it the default branding theme (the sandbox's stand-in)."""
    answer = httpx.post(
        f"{xero_url}/sandbox/organisations/{tenant_id}/branding-themes",
        json={"Name": DEFAULT_TEMPLATE_THEME, "Default": True},
        timeout=30,
    )
    answer.raise_for_status()


def _in_xero(xero_url: str, tenant_id: str, contact_id: str, action: str, **body: str) -> None:
    """Play a person in Xero's Contacts screens (the sandbox's stand-ins): ``merge`` a legacy
    contact into the learner's, or ``restore`` an archived one."""
    answer = httpx.post(
        f"{xero_url}/sandbox/organisations/{tenant_id}/contacts/{contact_id}/{action}",
        json=body,
        timeout=30,
    )
    answer.raise_for_status()


def _answer_key(xero_url: str, tenant_id: str) -> dict[str, str | None]:
    """Who each hand-typed contact really is, as the sandbox seeded it (ContactID ->
    RefInternal, None for an employer or a stranger): what a finance officer who knows the
    learners brings to the review."""
    answer = httpx.get(f"{xero_url}/sandbox/organisations/{tenant_id}/truth", timeout=30)
    answer.raise_for_status()
    return {row["contact_id"]: row["person_ref"] for row in answer.json()}


class _Narrator:
    """Numbered steps, their lines, and the progress listener the long jobs report to."""

    def __init__(self, echo: Echo, progress: ProgressListener | None) -> None:
        self.echo = echo
        self.progress = progress
        self.number = 0

    def step(self, text: str) -> None:
        self.number += 1
        self.echo("")
        self.echo(f"{self.number}. {text}")

    def say(self, text: str) -> None:
        self.echo(f"   {text}")


def run_demo(
    home: Path,
    *,
    port: int = 8001,
    serve: bool = False,
    echo: Echo = print,
    stop: threading.Event | None = None,
    fresh: bool = False,
    progress: ProgressListener | None = None,
    settings: Mapping[str, Any] | None = None,
) -> DemoResult:
    """Run the whole flow in ``home`` and return its figures (``serve``: then keep the web UI
    and the sandboxes running until ``stop`` is set or Ctrl-C). ``settings`` overrides
    learnerledger's settings; the Xero sandbox enforces the same minute and day limits
    (``xero_minute_limit``, ``xero_day_limit``: Xero's own by default)."""
    state = _load_state(home)
    why = "asked to start afresh" if fresh else _why_afresh(home, state)
    again = why is None
    if not again:
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
    say = _Narrator(echo, progress)
    result = DemoResult(again=again)
    echo("learnerledger demo: Demo Training Co's student management system beside its Xero.")
    if again:
        assert state is not None
        echo(
            f"The books from the demo of {state['finished']} are in {home}: the flow runs over "
            "them again (`learnerledger demo --fresh` starts over)."
        )
    with ExitStack() as stack:
        say.step("Starting the sandboxes...")
        config = load_config(overrides={**(settings or {}), "home": str(home)}, environ={})
        limits = Limits(minute=int(config["xero_minute_limit"]), day=int(config["xero_day_limit"]))
        sandboxes = _sandboxes(home, stack, port, state if again else None, say, result, limits)
        _save_state(
            home,
            ports={"xero": sandboxes.xero.port, "wisenet": sandboxes.wisenet.port},
            finished=None,
        )
        store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
        stack.callback(store.close)
        _flow(store, config, home, sandboxes, say, result, again=again)
        _report(store, config, say, result)
        _save_state(home, finished=datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M"))
        echo("")
        echo("`learnerledger status` in the same home shows the whole picture.")
        if serve:
            _serve(store, config, sandboxes, port, echo, stop, result)
    return result


def _sandboxes(
    home: Path,
    stack: ExitStack,
    port: int,
    state: dict[str, Any] | None,
    say: _Narrator,
    result: DemoResult,
    limits: Limits,
) -> _Sandboxes:
    """Start both sandboxes: freshly seeded, or (``state`` given) on the books of the last demo
    and the same ports, so that learnerledger's connections still point at them."""
    xero_store = SandboxStore(home / "xero-sandbox.db")
    stack.callback(xero_store.close)
    xero_clock = Clock()
    wisenet_store = wisenet_sandbox.SandboxStore(home / "wisenet-sandbox.db")
    stack.callback(wisenet_store.close)
    wisenet_clock = wisenet_sandbox.Clock()
    if state is None:
        client_id, client_secret = "learnerledger-demo", secrets.token_urlsafe(24)
        prepare_store(xero_store, xero_clock, clients=[(client_id, client_secret)])
        seeded = seed_organisation(xero_store)
        # The demo's Wisenet holds no invoices yet: the resync writes them from Xero's.
        wisenet_sandbox.seed_account(wisenet_store, invoices=False)
        (api_key,) = wisenet_sandbox.prepare_keys(
            wisenet_store, wisenet_clock, [f"learnerledger-demo-{secrets.token_urlsafe(12)}"]
        )
        result.update(secrets={"client_id": client_id, "client_secret": client_secret})
        result["secrets"]["api_key"] = api_key
        ports = (port, port + 1 if port else 0)
    else:
        prepare_store(xero_store, xero_clock)  # the app and the key are in the sandboxes' books
        seeded = None
        ports = (state["ports"]["xero"], state["ports"]["wisenet"])
    xero = _start(create_app(xero_store, clock=xero_clock, limits=limits), ports[0])
    stack.callback(xero.stop)
    wisenet = _start(wisenet_sandbox.create_app(wisenet_store, clock=wisenet_clock), ports[1])
    stack.callback(wisenet.stop)
    say.say(f"Xero sandbox:    {xero.url}  (Xero's web app: {xero.url}/sandbox)")
    say.say(f"Wisenet sandbox: {wisenet.url}/v1")
    if seeded is not None:
        say.say(
            f"Xero holds {seeded.contacts} contacts typed in by hand ({seeded.archived} "
            f"archived, {seeded.employers} employers); Wisenet holds {seeded.people} learners."
        )
    return _Sandboxes(xero, wisenet)


def _flow(
    store: Store,
    config: Config,
    home: Path,
    sandboxes: _Sandboxes,
    say: _Narrator,
    result: DemoResult,
    *,
    again: bool,
) -> None:
    box = load_secret_box(home)
    made = result.pop("secrets", None)
    xero_url = sandboxes.xero.url
    with ExitStack() as stack:
        say.step("Connecting Wisenet and pulling the learners flagged for Xero...")
        if made is not None:
            wconn = connect_wisenet(
                store, box, api_key=made["api_key"], base_url=sandboxes.wisenet.url + "/v1"
            )
        else:
            wconn = load_connection(store, box)
            say.say(f"Connected already, with the API key stored for {wconn.name}.")
        wclient = stack.enter_context(open_wisenet(wconn.base_url, wconn.api_key))
        pulled = pull_learners(store, wclient, connection_id=wconn.id, on_progress=say.progress)
        with store.read() as conn:
            counts = count_learners(conn)
        say.say(pulled.message)
        say.say(
            f"{counts.learners} learners stored, {counts.learners_ready} ready for Xero "
            "(the rest lack a name, a valid email or an address with state and postcode)."
        )
        result.update(learners=counts.learners, learners_ready=counts.learners_ready)
        result.update(pulled=pulled.counts())

        say.step("Connecting Xero (a custom connection) and mirroring its contacts...")
        if made is not None:
            connection = connect_custom(
                store,
                box,
                client_id=made["client_id"],
                client_secret=made["client_secret"],
                base_url=xero_url,
            )
        else:
            connection = find_connection(store)
            say.say(f"Connected already to {connection.name}.")
        client = stack.enter_context(open_xero(store, config, connection=connection))
        mirrored = pull_contacts(store, client, on_progress=say.progress)
        say.say(f"{mirrored.message} ({count(mirrored.calls, 'API call')})")
        result.update(organisation=connection.name, tenant_id=connection.tenant_id)
        tenant_id = connection.tenant_id
        result.update(contacts=sum(s.written for s in mirrored.streams))

        say.step("Planning the sync in adopt mode (nothing is sent yet)...")
        plan = sync_learners(store, client, mode="adopt", dry_run=True).plan
        totals = plan.totals()
        say.say(
            ", ".join(f"{n} {state}" for state, n in totals.items())
            + f"; applying it costs {count(plan.calls, 'API call')}."
        )
        for state in ("adopt", "review", "conflict"):
            item = next((i for i in plan.items if i.state == state), None)
            if item is not None and item.reasons:
                say.say(f"e.g. {item.ref_internal} {state}: {item.reasons[0]}")
        result.update(planned=totals)

        say.step(
            "Applying it: a learner with a hand-typed contact that is surely theirs takes it "
            "over; the others get a new one..."
        )
        synced = sync_learners(store, client, mode="adopt", on_progress=say.progress)
        say.say(synced.message)
        runs = [synced.counts()]
        result.update(sync=synced.counts())

        if not again:
            say.step("Running the sync again: nothing has changed, so nothing is sent...")
            rerun = sync_learners(store, client, mode="adopt")
            say.say(rerun.message)
            result.update(rerun_calls=rerun.calls)

        runs += _duplicates(store, client, connection.id, xero_url, tenant_id, say, result)
        result.update(
            created=sum(r["created"] for r in runs),
            adopted=sum(r["adopted"] for r in runs),
            updated=sum(r["updated"] for r in runs),
            final_sync=runs[-1],
        )
        _merge(store, client, xero_url, tenant_id, say, result)

        say.step("Resyncing the documents to the learners in Wisenet (the default range)...")
        target = WisenetTarget(wclient, wconn.id, int(config["wisenet_day_limit"]))
        resynced = resync_documents(store, client, wisenet=target, on_progress=say.progress)
        say.say(resynced.message)
        result.update(resync=resynced.counts(), resync_status=resynced.status)

        say.step("Reconciling: every learner's documents and outstanding, both sides...")
        checked = reconcile(store, client, wisenet=target, on_progress=say.progress)
        say.say(checked.message)
        result.update(mismatches=len(checked.mismatches), reconciled=len(checked.totals))
        result.update(unmatched_in_range=checked.unmatched)

        say.step("The invoice template: learners' invoices print first and last name...")
        branding = check_organisation(store, client)
        if not branding.ok:
            say.say(
                "Uploading docs/templates/learnerledger-invoice.docx in Xero's Invoice settings "
                "and making it the default (played on the sandbox)..."
            )
            _upload_template(xero_url, tenant_id)
            branding = check_organisation(store, client)
        default = branding.default.name if branding.default else "none"
        say.say(
            f"Invoices use '{default}' ({'the template' if branding.ok else 'not the template'})."
        )
        result.update(branding_ok=branding.ok)
        result.update(xero_calls=client.calls, wisenet_calls=wclient.calls)
        result.update(wisenet_used_today=WisenetDayBudget(store, wconn.id, 0, wclient).used)
        result.update(wisenet_day_limit=int(config["wisenet_day_limit"]))


def _duplicates(
    store: Store,
    client: Any,
    connection_id: int,
    xero_url: str,
    tenant_id: str,
    say: _Narrator,
    result: DemoResult,
) -> list[dict[str, int]]:
    """Find the duplicates, confirm the confident pairs, play a person's review of the rest,
    and sync again so that learners adopt their confirmed contacts (or get new ones); again
    while new pairs turn up. Returns the counts of each sync it ran."""
    say.step("Finding the duplicates left: old contacts of learners that have one now...")
    found = find_duplicates_job(store, client, on_progress=say.progress)
    say.say(found.message)
    by_status = Counter(p.status for p in found.pairs)
    result.update(duplicates=dict(by_status), duplicates_found=len(found.pairs))
    say.step("Confirming the confident pairs (the others wait for a person)...")
    confirmed = decide(store, connection_id, "confirmed", all_auto=True)
    waiting = [p for p in found.pairs if p.decision is None and p.status != "auto" and p.found]
    say.say(f"{count(confirmed, 'pair')} confirmed; {len(waiting)} left for review.")
    say.step(
        "A finance officer reviews the rest on the Duplicates page (played with the sandbox's "
        "answer key: who each hand-typed contact really is)..."
    )
    truth = _answer_key(xero_url, tenant_id)
    decided = Counter[str]()
    runs: list[dict[str, int]] = []
    for round_number in range(1, REVIEW_ROUNDS + 1):
        if round_number > 1:
            found = find_duplicates_job(store, client)
            new = [p for p in found.pairs if p.decision is None and p.found]
            if not new:
                break
            confirmed += decide(store, connection_id, "confirmed", all_auto=True)
            waiting = [p for p in new if p.status != "auto"]
            say.say(
                f"Now that those learners have contacts, {count(len(new), 'new pair')} turned "
                "up: the confident ones confirmed, the rest reviewed the same way."
            )
        for pair in waiting:
            decision = (
                "confirmed" if truth.get(pair.contact_id) == pair.ref_internal else "rejected"
            )
            decide(store, connection_id, decision, pair=(pair.ref_internal, pair.contact_id))
            decided[decision] += 1
        if round_number == 1:
            say.say(
                f"{decided['confirmed']} confirmed (the same person), {decided['rejected']} "
                "rejected (a namesake, a relative or someone else)."
            )
            say.step(
                "Syncing again: a learner adopts its confirmed contact; one whose every "
                "candidate was rejected gets a new one..."
            )
        synced = sync_learners(store, client, mode="adopt", on_progress=say.progress)
        say.say(synced.message)
        runs.append(synced.counts())
    result.update(
        confirmed=confirmed,
        reviewed={"confirmed": decided["confirmed"], "rejected": decided["rejected"]},
        resync_learners=runs[0],
    )
    return runs


def _merge(
    store: Store, client: Any, xero_url: str, tenant_id: str, say: _Narrator, result: DemoResult
) -> None:
    """Merge through the API what it can move, play the worklist's Merge in Xero, verify; where
    verify finds an archived contact that still holds documents, play its fix (restore it in
    Xero) and go round once more."""
    say.step("Merging through the API what Xero's API can move...")
    applied = merge_apply(store, client, on_progress=say.progress)
    say.say(applied.message)
    for work in applied.worklist[:1]:
        say.say(f"The worklist, e.g. for {work.learner} ({work.ref_internal}):")
        for number, step in enumerate(work.steps, 1):
            say.say(f"  {number}. {step}")
    merges = [applied.counts()]
    say.step(
        f"Playing the worklist's human step: {count(len(applied.worklist), 'merge')} in Xero's "
        "own Merge screen (the sandbox's), old contact into the learner's..."
    )
    by_hand = _play_worklist(applied.worklist, xero_url, tenant_id)
    say.step("Verifying every merge went the right way, money included...")
    verified = merge_verify(store, client, on_progress=say.progress)
    say.say(verified.message)
    restored = 0
    archived = _archived_with_documents(verified.clusters)
    if archived:
        example = next(c for c in verified.clusters if c.state == "conflict")
        say.say(f"e.g. {example.ref_internal}: {example.fix}")
        say.step(
            f"Doing what verify says: restoring {count(len(archived), 'archived contact')} in "
            "Xero, then merging once more..."
        )
        for contact_id in archived:
            _in_xero(xero_url, tenant_id, contact_id, "restore")
        restored = len(archived)
        again = merge_apply(store, client, on_progress=say.progress)
        say.say(again.message)
        merges.append(again.counts())
        by_hand += _play_worklist(again.worklist, xero_url, tenant_id)
        say.say(f"{count(len(again.worklist), 'merge')} played in Xero's Merge screen.")
        verified = merge_verify(store, client, on_progress=say.progress)
        say.say(verified.message)
    for state in ("conflict", "waiting", "wrong_direction"):
        cluster = next((c for c in verified.clusters if c.state == state), None)
        if cluster is not None and cluster.fix:
            say.say(f"e.g. {cluster.ref_internal} {state.replace('_', ' ')}: {cluster.fix}")
    result.update(
        merge={k: sum(m[k] for m in merges) for k in merges[0]},
        merged_by_hand=by_hand,
        restored=restored,
        verify=verified.counts(),
    )


def _play_worklist(worklist: Sequence[Any], xero_url: str, tenant_id: str) -> int:
    for work in worklist:
        _in_xero(xero_url, tenant_id, work.legacy_id, "merge", TargetContactID=work.survivor_id)
    return len(worklist)


def _archived_with_documents(clusters: Sequence[Any]) -> list[str]:
    """The archived legacy contacts that verify says still hold documents."""
    return [
        legacy["contact_id"]
        for c in clusters
        if c.state == "conflict"
        for legacy in c.legacy
        if legacy["status"] == "ARCHIVED" and legacy["documents_left"] and not legacy["merged_to"]
    ]


def _report(store: Store, config: Config, say: _Narrator, result: DemoResult) -> None:
    """The short report: what the flow did and what is left, and the calls it used."""
    final = result["final_sync"]
    synced = final["created"] + final["adopted"] + final["updated"] + final["unchanged"]
    budget = collect_status(store, config)["budget"]
    xero_used = sum(b["day_limit"] - b["day_remaining"] for b in budget)
    xero_limit = budget[0]["day_limit"] if budget else int(config["xero_day_limit"])
    merge, verify, resync = result["merge"], result["verify"], result["resync"]
    changed = (
        result["created"] + result["adopted"] + result["updated"] + result["confirmed"]
        + sum(result["reviewed"].values()) + merge["moved"] + merge["archived"]
        + merge["swapped"] + result["merged_by_hand"] + result["restored"]
        + resync["written"] + resync["removed"]
    )  # fmt: skip
    result.update(learners_synced=synced, changed=changed, xero_used_today=xero_used)
    say.echo("")
    say.echo("The report")
    rows = [
        ("Learners synced", f"{synced} of {result['learners_ready']} ready "
         f"({result['learners'] - result['learners_ready']} not ready: fix them in Wisenet)"),
        ("Contacts", f"{result['adopted']} adopted, {result['created']} created, "
         f"{result['updated']} updated"),
        ("Duplicates", f"{result['duplicates_found']} found: {result['confirmed']} confirmed "
         f"as confident, {result['reviewed']['confirmed']} confirmed and "
         f"{result['reviewed']['rejected']} rejected in review, "
         f"{final['review']} left for review"),
        ("Merged", f"{merge['moved']} documents re-pointed through the API, "
         f"{result['merged_by_hand']} merged in Xero from the worklist, {verify['done']} "
         f"verified, {verify['wrong_direction']} the wrong way round"),
        ("Waiting", f"{verify['waiting']} merges wait for a learner that is not ready, "
         f"{verify['conflict']} for a conflict"),
        ("Documents", f"{resync['written'] + resync['updated']} resynced to Wisenet, "
         f"{resync['unchanged']} unchanged, {resync['not_representable']} listed (Wisenet v1 "
         "cannot hold them)"),
        ("Mismatches", f"{result['mismatches']} over {result['reconciled']} learners"),
        ("API calls", f"Xero {result['xero_calls']} this run ({xero_used:,} of "
         f"{xero_limit:,} today), Wisenet {result['wisenet_calls']} "
         f"({result['wisenet_used_today']:,} of {result['wisenet_day_limit']:,} counted today)"),
    ]  # fmt: skip
    for label, text in rows:
        say.say(f"{label + ':':<17}{text}")
    say.echo("")
    if result["again"] and changed == 0:
        say.echo(
            "Nothing new to do: every learner is synced, every confirmed duplicate is merged "
            "and verified, every document is resynced, and the books agree."
        )
    else:
        say.echo("Done.")


def _serve(
    store: Store,
    config: Config,
    sandboxes: _Sandboxes,
    port: int,
    echo: Echo,
    stop: threading.Event | None,
    result: DemoResult,
) -> None:
    password = secrets.token_urlsafe(12)
    Users(store).add("demo", "admin", password)
    web = _start(create_web_app(store, config), port + 2 if port else 0)
    result.update(web_url=web.url, web_user="demo", web_password=password)
    try:
        echo("")
        echo(f"The web UI for finance staff: {web.url}/ (sign in as demo, {password}).")
        echo(
            f"The sandboxes keep running: Xero's web app at {sandboxes.xero.url}/sandbox. "
            "Press Ctrl-C to stop."
        )
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            echo("Stopped.")
    finally:
        web.stop()
