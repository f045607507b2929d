"""The getting-started guide, followed literally on the sandboxes, as its rehearsal box says.

Every command of ``docs/getting-started.md`` is read from the guide itself and run with
``bash`` in an empty directory, one after the other, with the substitutions the guide's
rehearsal table names (the sandboxes' credentials and URLs) and nothing else, save three the
test needs and says: free ports instead of 8000-8002 (tests run side by side), Xero's minute
limit raised on the sandbox and in the settings (no test waits out a rate-limit window), and
the passwords ``users add`` asks for, typed on its input. :data:`PLAN` says what is done with
each command; a command the guide gains or loses without :data:`PLAN` following fails the first
test, so the guide cannot drift from what is proven here.

Step 1's install is the only part not run: it is the README's ``make`` install (the same
``pip install -e .``), which CI runs on a fresh clone before this test; the test runs in that
environment, with its ``learnerledger`` first on ``PATH``. The human steps (Xero's Merge of
the worklist, Restore, the template's upload) are played as the rehearsal table says."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from learnerledger.merge import decide
from learnerledger.sandbox.xero.store import DEFAULT_TENANT_ID
from learnerledger.store import open_store
from learnerledger.xero.connections import find_connection

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"
FAST_MINUTE_LIMIT = "100000"
PASSWORD = "correct horse battery staple"


def guide_commands(text: str) -> list[str]:
    """The commands of the guide's ``console`` blocks (in the rehearsal box too), in order,
    without their trailing comments."""
    commands: list[str] = []
    inside = False
    for raw in text.splitlines():
        line = raw.lstrip()
        if line.startswith(">"):
            line = line[1:].lstrip()
        if line.startswith("```"):
            inside = line == "```console" if not inside else False
            continue
        if inside and line:
            commands.append(re.sub(r"\s+#\s.*$", "", line).strip())
    return commands


# What is done with each of the guide's commands: "run" runs it as written (after the
# substitutions of :meth:`Rehearsal.substitute`); "skip: why" does not; any other value names a
# method of :class:`Rehearsal` that plays it.
PLAN: dict[str, str] = {
    "learnerledger sandbox xero seed": "run",
    "learnerledger sandbox wisenet seed --no-invoices": "run",
    "learnerledger sandbox xero --client rehearsal-app:rehearsal-secret &": "background",
    "learnerledger sandbox wisenet --api-key rehearsal-key &": "background",
    "git clone <this repository> learnerledger && cd learnerledger": (
        "skip: the test runs in a clone already (CI's fresh one)"
    ),
    "python3.11 -m venv .venv && .venv/bin/pip install -e .": (
        "skip: the README's make install, which CI runs on the fresh clone"
    ),
    'export PATH="$PWD/.venv/bin:$PATH"': "skip: this environment's learnerledger is on PATH",
    "learnerledger --version": "run",
    "export LEARNERLEDGER_XERO_CLIENT_SECRET='…'": "export",
    "learnerledger connect xero --custom-connection --client-id 1A2B3C…": "run",
    "export LEARNERLEDGER_WISENET_API_KEY='…'": "export",
    "learnerledger connect wisenet": "run",
    "learnerledger pull learners": "run",
    "learnerledger status": "run",
    "learnerledger pull contacts": "run",
    "learnerledger sync learners --dry-run": "run",
    "learnerledger sync learners": "run",
    "learnerledger duplicates": "run",
    "learnerledger duplicates confirm --all-auto": "run",
    "learnerledger duplicates confirm DAU0000072 4f1c…": "decide_each",
    "learnerledger duplicates reject DAU0000072 9e0a…": "decide_each",
    "learnerledger merge plan": "run",
    "learnerledger merge apply --worklist-html worklist.html --worklist-csv worklist.csv": (
        "merge_apply"
    ),
    "learnerledger merge verify": "merge_verify",
    "learnerledger resync documents --dry-run": "run",
    "learnerledger resync documents": "run",
    "learnerledger report reconcile": "run",
    "learnerledger template invoice --out learnerledger-invoice.docx": "upload_template",
    "learnerledger check xero": "run",
    "learnerledger users add jsmith --role admin": "with_password",
    "learnerledger users add reception --role viewer": "with_password",
    "learnerledger serve": "serve",
    "learnerledger pull learners && learnerledger pull contacts && learnerledger sync learners": (
        "run"
    ),
}


def test_every_command_of_the_guide_is_planned() -> None:
    commands = guide_commands(GUIDE.read_text(encoding="utf-8"))
    assert commands, "the guide has no console blocks"
    assert sorted(set(commands) - set(PLAN)) == [], "commands of the guide the test does not run"
    assert sorted(set(PLAN) - set(commands)) == [], "commands the test runs that the guide lost"
    for action in PLAN.values():
        assert action in ("run",) or action.startswith("skip: ") or hasattr(Rehearsal, action)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ran:
    command: str
    output: str


@dataclass
class Rehearsal:
    """The directory the guide is followed in, its environment, and what has run so far."""

    cwd: Path
    ports: dict[int, int]
    env: dict[str, str]
    ran: list[Ran] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    merged_by_hand: int = 0
    restored: int = 0
    decided: dict[str, int] = field(default_factory=dict)

    # -- the rehearsal table's substitutions ---------------------------------------------------

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{self.ports[port]}"

    def substitute(self, command: str) -> str:
        table = {
            "learnerledger connect xero --custom-connection --client-id 1A2B3C…": (
                "learnerledger connect xero --custom-connection --client-id rehearsal-app "
                "--base-url http://127.0.0.1:8001"
            ),
            "learnerledger connect wisenet": (
                "learnerledger connect wisenet --base-url http://127.0.0.1:8002/v1"
            ),
            "export LEARNERLEDGER_XERO_CLIENT_SECRET='…'": (
                "export LEARNERLEDGER_XERO_CLIENT_SECRET='rehearsal-secret'"
            ),
            "export LEARNERLEDGER_WISENET_API_KEY='…'": (
                "export LEARNERLEDGER_WISENET_API_KEY='rehearsal-key'"
            ),
        }
        command = table.get(command, command)
        # The test's own: free ports, and Xero's minute limit raised on the sandbox.
        if command.startswith("learnerledger sandbox xero --client"):
            command = command.replace(" &", f" --port 8001 --minute-limit {FAST_MINUTE_LIMIT} &")
        if command.startswith("learnerledger sandbox wisenet --api-key"):
            command = command.replace(" &", " --port 8002 &")
        if command == "learnerledger serve":
            command += " --port 8000"
        for documented, free in self.ports.items():
            command = command.replace(f"127.0.0.1:{documented}", f"127.0.0.1:{free}")
            command = command.replace(f"--port {documented}", f"--port {free}")
        return command

    # -- running -------------------------------------------------------------------------------

    def run(self, command: str, *, stdin: str = "") -> Ran:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
        )
        ran = Ran(command, done.stdout + done.stderr)
        self.ran.append(ran)
        assert done.returncode == 0, f"{command} exited {done.returncode}:\n{ran.output}"
        assert "Traceback" not in ran.output, f"{command}:\n{ran.output}"
        return ran

    def export(self, command: str) -> None:
        name, _, value = command.removeprefix("export ").partition("=")
        self.env[name] = shlex.split(value)[0]

    def background(self, command: str) -> None:
        args = shlex.split(command.removesuffix("&").strip())
        process = self._start(args)
        self.processes.append(process)
        port = int(args[args.index("--port") + 1])
        self._wait_for(port, process)

    def _start(self, args: list[str]) -> subprocess.Popen[str]:
        log = (self.cwd / f"{args[1]}-{len(self.ran)}.log").open("w", encoding="utf-8")
        with log:
            return subprocess.Popen(
                args, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True
            )

    def _wait_for(self, port: int, process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"{process.args} ended: see its log in {self.cwd}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"nothing listens on {port}") from None
                time.sleep(0.1)

    def stop_background(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=30)
        self.processes.clear()

    # -- the human steps, played as the rehearsal table says -----------------------------------

    def decide_each(self, command: str) -> None:
        """The undecided pairs decided one at a time by someone who knows the learners: the
        ``confirm`` line confirms each that the sandbox's seed says is the same person, the
        ``reject`` line rejects each that is not. The first is decided with the command as the
        guide writes it; the others with the library function it calls, to spare a process
        start per pair."""
        truth = httpx.get(
            f"{self.url(8001)}/sandbox/organisations/{DEFAULT_TENANT_ID}/truth", timeout=30
        ).json()
        person = {row["contact_id"]: row["person_ref"] for row in truth}
        pairs = json.loads(self.run("learnerledger duplicates --json").output)["pairs"]
        verb = command.split()[2]
        keys = [
            (pair["ref_internal"], pair["contact_id"])
            for pair in pairs
            if pair["decision"] is None
            and (person.get(pair["contact_id"]) == pair["ref_internal"]) == (verb == "confirm")
        ]
        assert keys, f"no pair left to {command}"
        first, *others = keys
        ran = self.run(f"learnerledger duplicates {verb} {first[0]} {first[1]}")
        assert ran.output.startswith("1 pair "), ran.output
        store = open_store(f"sqlite:///{self.cwd / '.learnerledger' / 'learnerledger.db'}")
        try:
            connection = find_connection(store)
            for key in others:
                assert decide(store, connection.id, f"{verb}ed", pair=key) == 1
        finally:
            store.close()
        self.decided[verb] = len(keys)

    def merge_apply(self, command: str) -> None:
        """``merge apply``, then the worklist's Merge in Xero (table, step 7)."""
        self.run(command)
        with (self.cwd / "worklist.csv").open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
        assert (self.cwd / "worklist.html").is_file()
        # The first with the command line, the others with the contact page's Merge form.
        for number, row in enumerate(rows):
            source, target = row["legacy_contact_id"], row["merge_into_contact_id"]
            if number == 0:
                self.run(f"learnerledger sandbox xero merge {source} {target}")
            else:
                self.in_xero(source, "merge", target=target)
        self.merged_by_hand += len(rows)

    def in_xero(self, contact_id: str, action: str, **form: str) -> None:
        """What a person does on the sandbox's contact page: its Merge or Restore form."""
        page = f"{self.url(8001)}/sandbox/organisations/{DEFAULT_TENANT_ID}/contacts/{contact_id}"
        answer = httpx.post(
            f"{page}/{action}",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        assert answer.status_code == 303, answer.text
        assert "notice=" not in answer.headers["location"], answer.headers["location"]

    def merge_verify(self, command: str) -> None:
        """``merge verify``; a conflict's fix as step 8 says it: Restore (table, step 8), then
        ``merge apply`` again with its worklist, and verify again."""
        ran = self.run(command)
        archived = re.findall(r"\(ContactID ([0-9a-f-]{36})\) is archived but", ran.output)
        if archived:
            first, *others = archived
            self.run(f"learnerledger sandbox xero restore {first}")
            for contact_id in others:
                self.in_xero(contact_id, "restore")
            self.merge_apply(
                "learnerledger merge apply --worklist-html worklist.html "
                "--worklist-csv worklist.csv"
            )
            self.run(command)
        self.restored = len(archived)

    def upload_template(self, command: str) -> None:
        """Write the template, then upload it as the rehearsal table says (step 10): the
        ``curl`` line of the guide, sent as it is written."""
        self.run(command)
        assert (self.cwd / "learnerledger-invoice.docx").stat().st_size > 0
        curl = next(
            line.split("`")[1]
            for line in GUIDE.read_text(encoding="utf-8").splitlines()
            if line.startswith("> | 10 |")
        )
        args = shlex.split(self.substitute(curl))
        assert args[:2] == ["curl", "-s"]
        body = args[args.index("-d") + 1]
        url = args[-1]
        answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text

    def with_password(self, command: str) -> None:
        self.run(command, stdin=f"{PASSWORD}\n{PASSWORD}\n")

    def serve(self, command: str) -> None:
        """``serve`` until its sign-in page answers and the admin can sign in, then stopped."""
        args = shlex.split(self.substitute(command))
        process = self._start(args)
        try:
            self._wait_for(self.ports[8000], process)
            with httpx.Client(base_url=self.url(8000), timeout=30) as web:
                page = web.get("/login")
                assert page.status_code == 200
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert token is not None
                signed_in = web.post(
                    "/login",
                    data={"username": "jsmith", "password": PASSWORD, "csrf_token": token[1]},
                )
                assert signed_in.status_code in (302, 303), signed_in.text
                assert web.get("/").status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    cwd = tmp_path_factory.mktemp("newcomer")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LEARNERLEDGER_") and key not in ("VIRTUAL_ENV",)
    }
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "LEARNERLEDGER_XERO_MINUTE_LIMIT": FAST_MINUTE_LIMIT,
        "PYTHONUNBUFFERED": "1",
    }
    ports = {documented: _free_port() for documented in (8000, 8001, 8002)}
    rehearsal = Rehearsal(cwd, ports, env)
    try:
        for command in guide_commands(GUIDE.read_text(encoding="utf-8")):
            action = PLAN[command]
            if action.startswith("skip: "):
                continue
            if action == "run":
                rehearsal.run(rehearsal.substitute(command))
            else:
                play: Callable[[str], None] = getattr(rehearsal, action)
                play(rehearsal.substitute(command))
        yield rehearsal
    finally:
        rehearsal.stop_background()


def _outputs(rehearsal: Rehearsal, command: str) -> list[str]:
    return [ran.output for ran in rehearsal.ran if ran.command == command]


@pytest.mark.slow
def test_the_guide_connects_and_pulls_as_it_says(followed: Rehearsal) -> None:
    (connected,) = _outputs(
        followed,
        followed.substitute("learnerledger connect xero --custom-connection --client-id 1A2B3C…"),
    )
    assert "Connected 'Demo Training Co'" in connected
    (version,) = _outputs(followed, "learnerledger --version")
    assert version.startswith("learnerledger, version ")
    (status,) = _outputs(followed, "learnerledger status")
    ready = re.search(r"learners ready\s+(\d+)", status)
    flagged = re.search(r"learners\s+(\d+)", status)
    assert ready is not None
    assert flagged is not None
    assert 0 < int(ready[1]) < int(flagged[1])


@pytest.mark.slow
def test_every_ready_learner_ends_with_one_contact_of_its_own(followed: Rehearsal) -> None:
    status = json.loads(followed.run("learnerledger status --json").output)
    counts = status["counts"]
    # Every pair decided (step 6), every ready learner has its contact: adopted or created.
    assert followed.decided["confirm"] > 0
    assert followed.decided["reject"] > 0
    assert counts["duplicates_open"] == 0, counts
    assert counts["linked"] == counts["learners_ready"] > 0, counts


@pytest.mark.slow
def test_the_merges_are_all_done_or_waiting_for_their_learner(followed: Rehearsal) -> None:
    assert followed.merged_by_hand > 0
    assert followed.restored > 0
    verified = json.loads(followed.run("learnerledger merge verify --json").output)["counts"]
    assert verified["done"] > 0
    assert verified["pending"] == verified["conflict"] == verified["wrong_direction"] == 0
    assert verified["stopped"] == 0


@pytest.mark.slow
def test_the_resync_reconciles_and_the_template_is_the_default(followed: Rehearsal) -> None:
    (reconciled,) = _outputs(followed, "learnerledger report reconcile")
    assert ", 0 mismatches" in reconciled
    assert "Both sides agree for every learner." in reconciled
    (checked,) = _outputs(followed, "learnerledger check xero")
    assert "Learners' invoices print with 'Learners (first and last name)'" in checked
    # Day to day: the second resync has nothing left to write, and says so.
    first, again = _outputs(followed, "learnerledger resync documents")
    written = re.search(r": (\d+) documents written", first)
    assert written is not None, first
    assert int(written[1]) > 0
    assert ": 0 documents written" in again, again
    assert ", 0 to Wisenet." in again, again
