"""The worklist: the merges only a person can do, in Xero's own Merge, one item per legacy
contact, with everything needed to do it right the first time: the link that opens the legacy
contact in Xero, what to tick, and the contact to merge it into (the survivor, by its Name and
Contact Code). Xero's Merge cannot be undone, and the direction matters: the legacy contact is
the one that goes, the learner's own contact the one that stays.

Rendered as lines for a terminal, as CSV, and as a printable HTML page that holds everything
it needs (no script, no style sheet or font from elsewhere). Pure.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from learnerledger.merge.money import dollars
from learnerledger.merge.plan import ClusterPlan

__all__ = [
    "CSV_COLUMNS",
    "WorklistItem",
    "contact_link",
    "worklist_csv",
    "worklist_html",
    "worklist_items",
    "worklist_lines",
]

XERO_CONTACT_URL = "https://go.xero.com/Contacts/View/{contact_id}"
_XERO_API = "https://api.xero.com"

CSV_COLUMNS = (
    "ref_internal",
    "learner",
    "legacy_contact_id",
    "legacy_name",
    "open_in_xero",
    "merge_into_contact_id",
    "merge_into_name",
    "contact_code",
    "documents",
    "why",
    "outstanding",
    "what_to_do",
)


def contact_link(base_url: str, tenant_id: str, contact_id: str) -> str:
    """Where a person opens a contact: Xero's web app, or the sandbox's own contact page when
    the organisation is a sandbox's."""
    base = (base_url or _XERO_API).rstrip("/")
    if base == _XERO_API:
        return XERO_CONTACT_URL.format(contact_id=contact_id)
    return f"{base}/sandbox/organisations/{tenant_id}/contacts/{contact_id}"


@dataclass(frozen=True)
class WorklistItem:
    ref_internal: str
    learner: str
    legacy_id: str
    legacy_name: str
    link: str
    survivor_id: str
    survivor_name: str
    documents: tuple[tuple[str, str], ...]  # (label, why it cannot move through the API)
    outstanding: Decimal

    @property
    def steps(self) -> tuple[str, ...]:
        return (
            f"Open {self.legacy_name!r} in Xero: {self.link}",
            f"Tick {self.legacy_name!r} (the contact that goes) and choose Merge "
            "(on its own page: Options › Merge).",
            f"Merge it into {self.survivor_name!r}, the contact with the Contact Code "
            f"{self.ref_internal} (the one that stays). Check the direction before confirming: "
            "Xero's Merge cannot be undone.",
            "Confirm, then run `learnerledger merge verify`.",
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "ref_internal": self.ref_internal,
            "learner": self.learner,
            "legacy_contact_id": self.legacy_id,
            "legacy_name": self.legacy_name,
            "open_in_xero": self.link,
            "merge_into_contact_id": self.survivor_id,
            "merge_into_name": self.survivor_name,
            "contact_code": self.ref_internal,
            "documents": [{"document": label, "why": why} for label, why in self.documents],
            "outstanding": str(self.outstanding),
            "what_to_do": list(self.steps),
        }

    def row(self) -> dict[str, str]:
        """The item as one CSV row: its lists joined into text."""
        data = self.as_json()
        data["documents"] = "; ".join(label for label, _ in self.documents)
        data["why"] = "; ".join(f"{label}: {why}" for label, why in self.documents)
        data["what_to_do"] = " ".join(f"{n}. {s}" for n, s in enumerate(self.steps, 1))
        return {column: str(data[column]) for column in CSV_COLUMNS}


def worklist_items(
    clusters: Iterable[ClusterPlan],
    link: Callable[[str], str],
    *,
    still_held: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> list[WorklistItem]:
    """One item per legacy contact that needs Xero's Merge: those with blocked documents, and
    those still holding documents an apply could not move (``still_held``: ContactID ->
    (label, why) of each). ``link`` gives a contact's link."""
    held = still_held or {}
    items = []
    for c in clusters:
        target = c.target
        if target is None or c.state not in ("worklist", "swap", "move"):
            continue
        for lp in c.legacy:
            documents: list[tuple[str, str]] = []
            if lp.outcome == "merge":
                documents = [(d.label, d.reason) for d in lp.blocked]
            if lp.outcome in ("merge", "archive"):
                known = {label for label, _ in documents}
                documents += [x for x in held.get(lp.contact.contact_id, ()) if x[0] not in known]
            if not documents:
                continue
            owed = sum(
                (d.open_amount for d in lp.documents if d.kind == "invoice" and d.action != "left"),
                Decimal("0"),
            )
            items.append(
                WorklistItem(
                    ref_internal=c.ref_internal,
                    learner=c.learner,
                    legacy_id=lp.contact.contact_id,
                    legacy_name=lp.contact.name,
                    link=link(lp.contact.contact_id),
                    survivor_id=target.contact_id,
                    survivor_name=target.name,
                    documents=tuple(documents),
                    outstanding=owed,
                )
            )
    return items


def worklist_lines(items: Sequence[WorklistItem]) -> list[str]:
    """The worklist as a table for a terminal."""
    if not items:
        return ["Worklist: nothing for Xero's Merge."]
    out = [f"Worklist: {len(items)} merge{'s' if len(items) != 1 else ''} to do in Xero."]
    width = max(len(i.legacy_name) for i in items)
    out.append(f"  {'learner':12} {'merge this contact':{width}}  into")
    for i in items:
        out.append(f"  {i.ref_internal:12} {i.legacy_name:{width}}  {i.survivor_name}")
        out.append(f"  {'':12} {i.link}")
        for label, why in i.documents[:3]:
            out.append(f"  {'':12}   {label}: {why}")
        if len(i.documents) > 3:
            out.append(f"  {'':12}   ... and {len(i.documents) - 3} more documents")
    return out


def worklist_csv(items: Sequence[WorklistItem]) -> str:
    """The worklist as CSV, one row per merge, with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow(item.row())
    return buffer.getvalue()


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#111}
h1{font-size:1.4rem}.item{border:1px solid #bbb;border-radius:4px;padding:.8rem 1rem;
margin:0 0 1rem;break-inside:avoid}.item h2{font-size:1.05rem;margin:0 0 .4rem}
.box{display:inline-block;width:.9rem;height:.9rem;border:1px solid #333;margin-right:.4rem;
vertical-align:-.1rem}ol{margin:.3rem 0 .3rem 1.2rem;padding:0}td,th{text-align:left;
padding:.15rem .5rem .15rem 0;vertical-align:top}.muted{color:#555}a{color:#0b5394}
@media print{body{margin:1cm}a{color:#111;text-decoration:none}}
"""


def worklist_html(items: Sequence[WorklistItem], *, organisation: str, generated: str) -> str:
    """The worklist as one printable HTML page that needs nothing else to show."""
    e = html.escape
    blocks = []
    for n, i in enumerate(items, 1):
        docs = "".join(
            f"<tr><td>{e(label)}</td><td class=muted>{e(why)}</td></tr>"
            for label, why in i.documents
        )
        steps = "".join(f"<li>{e(s)}</li>" for s in i.steps)
        blocks.append(
            f'<section class="item"><h2><span class="box"></span>{n}. Merge '
            f"<b>{e(i.legacy_name)}</b> into <b>{e(i.survivor_name)}</b></h2>"
            f"<p>Learner {e(i.learner)} ({e(i.ref_internal)}). Open in Xero: "
            f'<a href="{e(i.link)}">{e(i.link)}</a></p><ol>{steps}</ol>'
            f"<table><tr><th>Document</th><th>Why the API cannot move it</th></tr>{docs}</table>"
            f"<p class=muted>Outstanding on the contact that goes: {e(dollars(i.outstanding))}"
            "</p></section>"
        )
    body = "".join(blocks) or "<p>Nothing for Xero's Merge.</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Merge worklist · {e(organisation)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Merge worklist: {e(organisation)}</h1><p class=muted>{len(items)} merges to do "
        f"in Xero, made {e(generated)}. Each moves a legacy contact's history into the "
        "learner's own contact; tick the box when done, then run <code>learnerledger merge "
        f"verify</code>.</p>{body}</body></html>\n"
    )
