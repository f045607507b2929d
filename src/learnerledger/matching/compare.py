"""Field by field, how a learner and a contact compare: one small integer *level* per field.

Every comparison is an array operation over many pairs at once: learner ``i[k]`` against
contact ``j[k]``. The levels say what was seen (the e-mails agree, the first names are one
letter apart, the addresses share a street but not its number), not what it is worth: the
weights come from the model (``model``), and the words from ``score.evidence``. Beside each
level is the value that agreed, when one did, so that a rare value can count for more than a
common one.

A contact's Name is read several ways (``normalize.parse_name``); each pair takes the reading
that fits its learner best, judged by fixed preferences that need no data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from .records import ContactTable, Ids, LearnerTable, Vocabulary
from .similarity import Similar, Similarity

__all__ = ["FIELDS", "LEVELS", "Comparer", "Levels"]

Floats = npt.NDArray[np.float32]
Flags = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]

MISSING = 0
# The levels of each field, after MISSING (0), in order of their number.
LEVELS: dict[str, tuple[str, ...]] = {
    "first_name": (
        "exact",
        "nickname",
        "short form",
        "initial",
        "fuzzy",
        "one letter",
        "alike",
        "disagree",
    ),
    "last_name": ("exact", "fuzzy", "one letter", "contains", "alike", "disagree"),
    "email": (
        "exact",
        "shared",
        "dots",
        "mailbox",
        "fuzzy",
        "name only",
        "disagree",
    ),
    "mobile": ("exact", "shared", "disagree"),
    "landline": ("exact", "disagree"),
    "street": ("exact", "number differs", "near", "alike", "disagree"),
    "area": ("postcode and suburb", "postcode", "suburb", "near", "disagree"),
}
FIELDS = tuple(LEVELS)


def level(field: str, name: str) -> int:
    return LEVELS[field].index(name) + 1


F_EXACT, F_NICKNAME, F_PREFIX, F_INITIAL, F_FUZZY, F_CLOSE, F_ALIKE, F_DISAGREE = range(1, 9)
L_EXACT, L_FUZZY, L_CLOSE, L_PARTIAL, L_ALIKE, L_DISAGREE = range(1, 7)
E_EXACT, E_SHARED, E_DOTS, E_LOCAL, E_FUZZY, E_NAME_ONLY, E_DISAGREE = range(1, 8)
M_EXACT, M_SHARED, M_DISAGREE = range(1, 4)
T_EXACT, T_DISAGREE = range(1, 3)
S_EXACT, S_NUMBER, S_NEAR, S_ALIKE, S_DISAGREE = range(1, 6)  # near: same number, slip
A_BOTH, A_POSTCODE, A_SUBURB, A_NEAR, A_DISAGREE = range(1, 6)

# Which reading of a Name fits best: fixed preferences (bits), the same for every data set.
_FIRST_PREFERENCE = np.array([0, 7, 5, 4, 1.5, 3.5, 1, -4, -8], np.float32)
_LAST_PREFERENCE = np.array([0, 7, 4, 2, 3, -1, -3], np.float32)
_SWAPPED_PREFERENCE = -1.0
# (a missing comparison ranks below a disagreeing one: two addresses compared say more)
_STREET_PREFERENCE = np.array([-5, 12, 7, 9, 2, -4], np.float32)
_AREA_PREFERENCE = np.array([-5, 8, 6, 4, 1, -4], np.float32)


@dataclass
class Levels:
    """Per pair (learner ``learner[k]``, contact ``contact[k]``): each field's level, the
    value that agreed (for its frequency), and what the words of the evidence need."""

    learner: Ids
    contact: Ids
    first_name: Codes
    last_name: Codes
    email: Codes
    mobile: Codes
    landline: Codes
    street: Codes
    area: Codes
    first_value: Ids  # the learner's first name (for an exact agreement's frequency)
    last_value: Ids
    email_value: Ids
    mobile_value: Ids
    landline_value: Ids
    street_value: Ids  # the agreeing line
    area_value: Ids  # the agreeing postcode, else suburb
    first_strength: Floats
    last_strength: Floats
    reading: npt.NDArray[np.int8]  # the contact's best reading of its Name; -1 none
    swapped: Flags
    couple: Flags
    reference: Flags
    address_index: npt.NDArray[np.int8]  # which of the contact's addresses compared best

    def __len__(self) -> int:
        return len(self.learner)

    def take(self, keep: npt.NDArray[Any] | slice) -> Levels:
        return Levels(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Levels]) -> Levels:
        return Levels(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Levels)}
        )


def _first_best(group: npt.NDArray[Any], value: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Per run of equal ``group`` values (sorted), the index of its highest ``value``, the
    first of equals."""
    if not len(group):
        return np.zeros(0, np.intp)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    top = np.repeat(np.maximum.reduceat(value, starts), np.diff(np.r_[starts, len(group)]))
    best = np.flatnonzero(value == top)
    result: npt.NDArray[np.intp] = best[np.r_[True, group[best][1:] != group[best][:-1]]]
    return result


def _any_equal(left: Ids, right: Ids) -> Flags:
    """Per row: does a non-empty value of ``left`` ([k, a]) appear in ``right`` ([k, b])?"""
    result: Flags = np.asarray(
        ((left[:, :, None] == right[:, None, :]) & (left[:, :, None] != 0)).any(axis=(1, 2))
    )
    return result


def _first_equal(left: Ids, right: Ids) -> Ids:
    """Per row: the first non-empty value of ``left`` found in ``right`` (0 when none)."""
    found = ((left[:, :, None] == right[:, None, :]) & (left[:, :, None] != 0)).any(axis=2)
    first = found.argmax(axis=1)
    result: Ids = np.where(found.any(axis=1), left[np.arange(len(left)), first], 0).astype(np.int32)
    return result


class Comparer:
    """Compares pairs of one learner table and one contact table."""

    def __init__(
        self,
        vocab: Vocabulary,
        learners: LearnerTable,
        contacts: ContactTable,
    ) -> None:
        self.vocab, self.learners, self.contacts = vocab, learners, contacts
        self.similarity = Similarity(vocab)
        self.lengths = self.similarity.lengths
        self.initials = vocab.initials()
        self.masks = vocab.group_masks()
        forms = self.masks[learners.first]  # [n, forms, words]
        self.learner_groups = (
            np.bitwise_or.reduce(forms, axis=1) if len(learners) else self.masks[:0, :]
        )
        self.family_local = np.fromiter(
            ("family" in s for s in vocab.strings), np.bool_, len(vocab)
        )
        self.email_count = _counts(learners.email, len(vocab))
        self.mobile_count = _counts(learners.mobile, len(vocab))
        refs = np.unique(learners.ref[learners.ref != 0])
        owner = np.zeros(len(contacts), np.int32)
        for col in range(contacts.refs.shape[1] - 1, -1, -1):
            ref = contacts.refs[:, col]
            known = np.isin(ref, refs) & (ref != 0)
            owner[known] = ref[known]
        self.owner = owner  # the learner reference a contact carries, if it carries one

    def belongs_elsewhere(self, i: Ids, j: Ids) -> Flags:
        """The contact carries another learner's RefInternal: it is that learner's."""
        owner = self.owner[j]
        result: Flags = (owner != 0) & (owner != self.learners.ref[i])
        return result

    def similar(self, a: Ids, b: Ids) -> Similar:
        return self.similarity.compare(a, b)

    def compare(self, i: Ids, j: Ids) -> Levels:
        names = self._names(i, j)
        email, email_value = self._emails(i, j)
        mobile, mobile_value, landline, landline_value = self._phones(i, j)
        street, street_value, area, area_value, address_index = self._addresses(i, j)
        reference = (self.contacts.refs[j] == self.learners.ref[i][:, None]).any(axis=1)
        reference &= self.learners.ref[i] != 0
        return Levels(
            learner=i,
            contact=j,
            email=email,
            mobile=mobile,
            landline=landline,
            street=street,
            area=area,
            email_value=email_value,
            mobile_value=mobile_value,
            landline_value=landline_value,
            street_value=street_value,
            area_value=area_value,
            reference=np.asarray(reference, np.bool_),
            address_index=address_index,
            **names,
        )

    def _names(self, i: Ids, j: Ids) -> dict[str, npt.NDArray[Any]]:
        """The best reading of each contact's Name against its learner."""
        L, C = self.learners, self.contacts
        given0, family = C.given0[j], C.family[j]
        pair, reading = np.nonzero((given0 != 0) | (family != 0))
        li = i[pair]
        g0 = given0[pair, reading]
        gj = C.given[j][pair, reading]
        fam = family[pair, reading]
        forms = L.first[li]
        last = L.last[li]
        rows = len(pair)

        # only the (given name, form) pairs there are: most learners have one form, most
        # readings one given name
        nforms = forms.shape[1]
        row, form = np.nonzero((forms != 0) & (g0 != 0)[:, None])
        many = np.flatnonzero(gj[row] != g0[row])
        sim = self.similar(
            np.concatenate([g0[row], gj[row[many]], fam]),
            np.concatenate([forms[row, form], forms[row[many], form[many]], last]),
        )
        cut, cut2 = len(row), len(row) + len(many)
        close_g0 = np.zeros((rows, nforms), np.float32)
        close_g0[row, form] = sim.close[:cut]
        close_gj = np.zeros((rows, nforms), np.float32)
        close_gj[row[many], form[many]] = sim.close[cut:cut2]
        prefix = np.zeros((rows, nforms), np.bool_)
        prefix[row, form] = sim.prefix[:cut]
        last_close, last_suffix = sim.close[cut2:], sim.suffix[cut2:]

        exact = ((forms == g0[:, None]) | (forms == gj[:, None])).any(axis=1) & (g0 != 0)
        g0_len = self.lengths[g0]
        initial = g0_len == 1
        initial_agrees = (self.initials[forms] == self.initials[g0][:, None]).any(axis=1)
        nickname = (self.masks[g0] & self.learner_groups[li]).any(axis=1)
        short_form = (g0_len >= 3) & prefix.any(axis=1)
        best = np.maximum(close_g0.max(axis=1), close_gj.max(axis=1))

        first = np.full(rows, F_DISAGREE, np.int8)
        first[best >= 0.70] = F_ALIKE
        first[best >= 0.85] = F_CLOSE
        first[best >= 0.92] = F_FUZZY
        first[short_form] = F_PREFIX
        first[nickname] = F_NICKNAME
        first[initial] = np.where(initial_agrees[initial], F_INITIAL, F_DISAGREE)
        first[exact] = F_EXACT
        first[(g0 == 0) | (forms[:, 0] == 0)] = MISSING
        strength = best.astype(np.float32)
        strength[first == F_INITIAL] = 0.5
        strength[first == F_NICKNAME] = 0.9
        strength[first == F_PREFIX] = 0.8
        strength[(first == F_EXACT)] = 1.0
        strength[(first == MISSING) | (initial & (first == F_DISAGREE))] = 0.0

        last_level = np.full(rows, L_DISAGREE, np.int8)
        last_level[last_close >= 0.70] = L_ALIKE
        shortest = np.minimum(self.lengths[fam], self.lengths[last])
        partial = (shortest >= 3) & last_suffix
        last_level[partial] = L_PARTIAL
        last_level[last_close >= 0.85] = L_CLOSE
        last_level[last_close >= 0.92] = L_FUZZY
        last_level[fam == last] = L_EXACT
        last_level[(fam == 0) | (last == 0)] = MISSING
        last_strength = last_close.astype(np.float32)
        last_strength[last_level == L_PARTIAL] = 0.7
        last_strength[last_level == MISSING] = 0.0

        swapped = C.swapped[j][pair, reading]
        fit = (
            _FIRST_PREFERENCE[first]
            + _LAST_PREFERENCE[last_level]
            + np.where(swapped, _SWAPPED_PREFERENCE, 0.0)
        )
        top = _first_best(pair, fit)
        n = len(i)
        at = pair[top]
        out: dict[str, npt.NDArray[Any]] = {}

        def spread(name: str, values: npt.NDArray[Any], empty: Any, dtype: Any) -> None:
            column = np.full(n, empty, dtype)
            column[at] = values[top]
            out[name] = column

        spread("reading", reading.astype(np.int8), -1, np.int8)
        spread("first_name", first, MISSING, np.int8)
        spread("first_strength", strength, 0.0, np.float32)
        spread("first_value", forms[:, 0], 0, np.int32)
        spread("last_name", last_level, MISSING, np.int8)
        spread("last_strength", last_strength, 0.0, np.float32)
        spread("last_value", last, 0, np.int32)
        spread("swapped", swapped, False, np.bool_)
        spread("couple", C.couple[j][pair, reading], False, np.bool_)
        return out

    def _emails(self, i: Ids, j: Ids) -> tuple[Codes, Ids]:
        L, C = self.learners, self.contacts
        ce, le = C.email[j], L.email[i]
        has = (ce != 0) & (le[:, 0] != 0)
        same = (le == ce[:, None]).any(axis=1) & has
        raw_known = (L.email_raw[i] == C.email_raw[j][:, None]).any(axis=1)
        level = np.where(has, E_DISAGREE, MISSING).astype(np.int8)
        # a slip in the mailbox at the same domain as the learner's first address
        loose = np.flatnonzero(has & ~same & (C.email_domain[j] == L.email_domain[i, 0]))
        if len(loose):
            close = self.similar(C.email_local[j][loose], L.email_local[i][loose, 0]).close
            level[loose[close >= 0.95]] = E_FUZZY
        local = C.email_local[j]
        other = (
            has
            & ~same
            & (self.lengths[local] >= 5)
            & ~C.email_role[j]
            & (L.email_local[i] == local[:, None]).any(axis=1)
        )
        level[other] = E_LOCAL
        exact = same & raw_known
        level[exact] = np.where(
            (self.email_count[ce[exact]] > 1) | self.family_local[local[exact]], E_SHARED, E_EXACT
        )
        level[same & ~raw_known] = E_DOTS
        # A mailbox that only spells the learner's name agrees for a namesake too: at another
        # provider, with other digits or a slip it adds little to the names themselves.
        # (The same mailbox with the same digits, "arlo.murray2003", is the person's own.)
        strings = self.vocab.strings
        for k in np.flatnonzero(np.isin(level, (E_DOTS, E_LOCAL, E_FUZZY))).tolist():
            mailbox = strings[local[k]]
            digits = level[k] != E_FUZZY and any(c.isdigit() for c in mailbox)
            if not digits and self._name_only(int(i[k]), mailbox):
                level[k] = E_NAME_ONLY
        return level, np.where(same, ce, 0).astype(np.int32)

    def name_mailbox_share(self) -> float:
        """The share of learners whose own mailbox only spells their name: how often a
        namesake's mailbox agrees in the same way with a learner's."""
        strings = self.vocab.strings
        emails = self.learners.email_local[:, 0]
        have = np.flatnonzero(emails != 0)
        if not len(have):
            return 0.5
        named = sum(self._name_only(int(i), strings[emails[i]]) for i in have.tolist())
        return (named + 5.0) / (len(have) + 10.0)

    def _name_only(self, learner: int, local: str) -> bool:
        """The mailbox's letters are only the learner's name ("felicity.jones77")."""
        letters = "".join(c for c in local if c.isalpha())
        strings = self.vocab.strings
        last = strings[self.learners.last[learner]]
        forms = {last}
        for f in (strings[x] for x in self.learners.first[learner] if x):
            forms |= {f, f + last, last + f, f[:1] + last, f + last[:1], last + f[:1]}
        return letters in forms

    def _phones(self, i: Ids, j: Ids) -> tuple[Codes, Ids, Codes, Ids]:
        L, C = self.learners, self.contacts
        cm, lm = C.mobile[j], L.mobile[i]
        has = (cm[:, 0] != 0) & (lm[:, 0] != 0)
        matched = ((cm[:, :, None] == lm[:, None, :]) & (cm[:, :, None] != 0)).any(axis=2)
        own = matched & (self.mobile_count[cm] <= 1)
        mobile = np.where(has, M_DISAGREE, MISSING).astype(np.int8)
        mobile[matched.any(axis=1)] = M_SHARED
        mobile[own.any(axis=1)] = M_EXACT
        pick = np.where(own.any(axis=1), own.argmax(axis=1), matched.argmax(axis=1))
        mobile_value = np.where(matched.any(axis=1), cm[np.arange(len(cm)), pick], 0)
        cl, ll = C.landline[j], L.landline[i]
        landline = np.where((cl[:, 0] != 0) & (ll[:, 0] != 0), T_DISAGREE, MISSING).astype(np.int8)
        landline_value = _first_equal(cl, ll)
        landline[landline_value != 0] = T_EXACT
        return mobile, mobile_value.astype(np.int32), landline, landline_value

    def _addresses(self, i: Ids, j: Ids) -> tuple[Codes, Ids, Codes, Ids, npt.NDArray[np.int8]]:
        """The street line and the area (postcode, suburb) of the pair of addresses, one of
        the contact's and one of the learner's, that agree best."""
        L, C = self.learners, self.contacts
        n, ca, la = len(i), C.line.shape[1], L.line.shape[1]
        shape = (n, ca, la)

        def grid(a: Ids, b: Ids) -> tuple[Any, Any, npt.NDArray[np.bool_], Floats]:
            left = np.broadcast_to(a[:, :, None], shape)
            right = np.broadcast_to(b[:, None, :], shape)
            same = (left == right) & (left != 0)
            sim = np.where(same, 1.0, 0.0).astype(np.float32).ravel()
            differ = np.flatnonzero(((left != right) & (left != 0) & (right != 0)).ravel())
            if len(differ):
                sim[differ] = self.similar(left.ravel()[differ], right.ravel()[differ]).close
            return left, right, same, sim.reshape(shape)

        c_line, l_line = C.line[j], L.line[i]
        has_line = (c_line[:, :, None] != 0) & (l_line[:, None, :] != 0)
        same_line = (c_line[:, :, None] == l_line[:, None, :]) & has_line
        _, _, _, core_sim = grid(C.street[j], L.street[i])
        c_number, l_number = C.number[j], L.number[i]
        same_number = (c_number[:, :, None] == l_number[:, None, :]) & (c_number[:, :, None] != 0)
        street = np.where(has_line, S_DISAGREE, MISSING).astype(np.int8)
        street[has_line & ((core_sim >= 0.85) | (same_number & (core_sim >= 0.7)))] = S_ALIKE
        street[has_line & (core_sim >= 0.95)] = S_NUMBER
        street[has_line & same_number & (core_sim >= 0.85)] = S_NEAR
        street[same_line | (has_line & same_number & (core_sim >= 0.95))] = S_EXACT

        c_pc, l_pc, same_pc, pc_sim = grid(C.postcode[j], L.postcode[i])
        c_sub, l_sub, _, sub_sim = grid(C.suburb[j], L.suburb[i])
        suburb_agrees = sub_sim >= 0.92  # a suburb typed with a slip is still the suburb
        has_area = ((c_pc != 0) & (l_pc != 0)) | ((c_sub != 0) & (l_sub != 0))
        area = np.where(has_area, A_DISAGREE, MISSING).astype(np.int8)
        area[has_area & ((pc_sim >= 0.9) | (sub_sim >= 0.85))] = A_NEAR
        area[suburb_agrees] = A_SUBURB
        area[same_pc] = A_POSTCODE
        area[same_pc & suburb_agrees] = A_BOTH

        fit = _STREET_PREFERENCE[street] + _AREA_PREFERENCE[area]
        flat = fit.reshape(n, ca * la)
        best = flat.argmax(axis=1) if n else np.zeros(0, np.intp)
        rows = np.arange(n)
        a_index, b_index = best // la, best % la
        chosen_street = street[rows, a_index, b_index]
        chosen_area = area[rows, a_index, b_index]
        # the learner's own values, so that each is counted among the learners at least once
        street_value = np.where(chosen_street == S_EXACT, l_line[rows, b_index], 0)
        pc_value = np.where(same_pc[rows, a_index, b_index], l_pc[rows, a_index, b_index], 0)
        sub_value = np.where(
            suburb_agrees[rows, a_index, b_index], l_sub[rows, a_index, b_index], 0
        )
        area_value = np.where(
            (chosen_area == A_BOTH) | (chosen_area == A_POSTCODE),
            pc_value,
            np.where(chosen_area == A_SUBURB, sub_value, 0),
        )
        return (
            chosen_street.astype(np.int8),
            street_value.astype(np.int32),
            chosen_area.astype(np.int8),
            area_value.astype(np.int32),
            a_index.astype(np.int8),
        )


def _counts(ids: Ids, size: int) -> npt.NDArray[np.int64]:
    values = ids[ids != 0]
    return np.bincount(values, minlength=size) if len(values) else np.zeros(size, np.int64)
