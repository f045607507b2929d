"""Normal forms of the values a duplicate finder compares: names, e-mails, phones, addresses.

Every function here is pure and total: any text goes in, a normal form (possibly empty) comes
out, and a normal form normalised again is unchanged. Hand-typed Xero contacts are the input
these are written for: "JONES, Felicity", "Ms F. Jones", "Felicity & Tom Jones",
"Felicity Jones (2)", "Felicity Jones DAU0000072", landlines without an area code, "Unit 2, 14
Smith Street" beside "2/14 Smith St", "New South Wales" beside "NSW".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers

# Normal forms are remembered for the values that repeat (names, suburbs, postcodes); most
# e-mails, phones and street lines are one record's, so a larger memory would only hold them.
_CACHE = 20_000

__all__ = [
    "NICKNAMES",
    "NormalAddress",
    "NormalEmail",
    "NormalPhone",
    "PersonName",
    "company_reason",
    "fold",
    "name_groups",
    "normalize_address",
    "normalize_email",
    "normalize_phone",
    "parse_name",
    "strip_name_tail",
]

# Groups of first names one person goes by. A name may sit in several groups (Alex, Sam).
NICKNAMES: tuple[tuple[str, ...], ...] = tuple(
    tuple(group.split())
    for group in """
    abigail abby abbie gail
    albert al bert bertie
    alexander alex alec xander sandy lex
    alexandra alex lexi sandra sandy alexa
    alfred alf alfie fred
    andrew andy drew
    angela angie
    anthony tony ant anton
    antonio tony toni
    arthur art artie
    barbara barb babs
    benjamin ben benny benji
    bradley brad
    bridget biddy bridie
    catherine kate cath cathy kath kathy katie cate kat
    katherine kate kath kathy katie kat kit
    katerina kat kate katie
    charles charlie chuck chas
    charlotte charlie lottie lotte
    christine chris chrissy tina
    christopher chris kit topher
    christos chris
    concetta connie
    daniel dan danny
    david dave davey
    deborah deb debbie debs
    dimitrios jim jimmy dimi
    domenic dom nic
    dominic dom nic
    donald don donny
    dorothy dot dottie
    edward ed eddie ted ned
    elias eli
    elizabeth liz beth lizzie betty eliza libby bess
    eleanor ellie nell nora
    emily em emmy
    felicity fliss flick
    francesco frank franco
    francis frank fran
    frances fran frankie
    frederick fred freddie
    gabriella gabby gabi ella
    gabriel gabe
    georgios george
    geoffrey geoff jeff
    giovanni john gianni
    giuseppe joe joey beppe pino
    gregory greg
    harrison harry
    henry harry hank
    isabella izzy bella isabel
    isabelle izzy bella
    jacqueline jackie jacqui
    james jim jimmy jamie jimbo
    jennifer jen jenny jenna
    jessica jess jessie
    john jack johnny jon
    jonathan jon jonny nathan
    joseph joe joey jo
    joshua josh
    josé joey jose pepe
    judith judy jude
    kimberley kim
    kimberly kim
    konstantinos con dean kosta gus
    kristine kris kristy
    lachlan lachie lachy
    lawrence larry laurie
    leonard len lenny leo
    madison maddy maddie
    margaret maggie meg peggy marg margie greta
    matthew matt matty
    michael mike mick mikey mickey
    mohamed mo moe mohammed muhammad
    mohammed mo moe mohamed muhammad
    nathaniel nate nat nathan
    natalie nat tali
    nicholas nick nicky nico
    nikolaos nick nikos
    panagiotis peter panos
    patricia trish patty pat tricia
    patrick pat paddy
    peter pete
    philip phil pip
    phillip phil
    rebecca bec becky becca
    richard rick ricky dick rich
    robert bob rob bobby robbie bert
    ronald ron ronnie
    salvatore sam sal toto
    samantha sam sammy
    samuel sam sammy
    siddharth sid
    stephanie steph
    stephen steve stevie
    steven steve stevie
    susan sue susie suzy
    terence terry
    theodoros theo
    theodore theo ted teddy
    thomas tom tommy
    timothy tim timmy
    anastasios tass tassos
    vasilios bill vasili
    vasiliki vicky vaso
    victoria tori vic vicky
    vincenzo vince enzo
    vincent vince vinnie
    walter wally walt
    william bill will liam billy willy
    youssef joe yusuf
    zachary zac zach
    """.strip().splitlines()
)


@lru_cache(maxsize=1)
def _nickname_index() -> Mapping[str, frozenset[int]]:
    index: dict[str, set[int]] = {}
    for n, group in enumerate(NICKNAMES):
        for name in group:
            index.setdefault(fold(name), set()).add(n)
    return {name: frozenset(groups) for name, groups in index.items()}


def name_groups(name: str) -> frozenset[int]:
    """The nickname groups a folded first name belongs to (empty when it is in none)."""
    return _nickname_index().get(name, frozenset())


_EXTRA_FOLD = str.maketrans(
    {"ø": "o", "æ": "ae", "ß": "ss", "đ": "d", "ł": "l", "œ": "oe", "ı": "i", "þ": "th"}
)
_NOT_WORD = re.compile(r"[^a-z0-9&/]+")
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=_CACHE)
def fold(text: str) -> str:
    """Lower case, accents removed, punctuation to spaces (``&`` and ``/`` kept), spaces
    collapsed: ``"  Zoë  O'Brien-Smith "`` -> ``"zoe o brien smith"``."""
    if text.isascii():
        return " ".join(_NOT_WORD.sub(" ", text.lower()).split())
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_EXTRA_FOLD))
    ascii_text = "".join(c for c in folded if not unicodedata.combining(c))
    ascii_text = ascii_text.translate(_EXTRA_FOLD)
    return " ".join(_NOT_WORD.sub(" ", ascii_text).split())


# ---------------------------------------------------------------------------- names

TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "professor",
        "sir",
        "dame",
        "rev",
        "revd",
        "reverend",
        "master",
        "madam",
        "mister",
        "fr",
        "father",
        "sr",
        "sister",
    ]
)
SUFFIXES = frozenset(
    [
        "jr",
        "jnr",
        "junior",
        "sr",
        "snr",
        "senior",
        "ii",
        "iii",
        "iv",
        "esq",
        "phd",
        "md",
        "oam",
        "am",
        "ao",
        "ac",
    ]
)
# A trailing RefInternal-like code ("DAU0000072", "STU-00126") or a number or place in
# brackets ("(2)", "(Coolangatta)") or a plain " 2" that a finance officer added to keep
# Names unique.
_TAIL = re.compile(r"(?:\s*\([^()]*\)|\s+[A-Za-z]{2,5}-?\d{4,}|\s+\d{1,3}|\s*[-–]\s*\d{1,3})\s*$")
_REF = re.compile(r"\b([A-Za-z]{2,5}-?\d{4,})\s*(?:\([^()]*\))?\s*$")


@lru_cache(maxsize=_CACHE)
def strip_name_tail(name: str) -> tuple[str, str]:
    """The Name without what was appended to keep it unique, and a RefInternal-like code
    found there (or "")."""
    ref_match = _REF.search(name)
    ref = ref_match.group(1).upper() if ref_match else ""
    text = name.strip()
    for _ in range(4):
        stripped = _TAIL.sub("", text).strip()
        if stripped == text or not stripped:
            break
        text = stripped
    return text, ref


@dataclass(frozen=True, slots=True)
class PersonName:
    """One reading of a name: given tokens (first, then middle names) and the family name
    (its tokens joined: "van der berg" -> "vanderberg"). ``swapped`` when it reads the
    surname first without a comma saying so; ``couple`` when the Name names two people."""

    given: tuple[str, ...]
    family: str
    swapped: bool = False
    couple: bool = False

    @property
    def first(self) -> str:
        return self.given[0] if self.given else ""


def _tokens(text: str) -> list[str]:
    words = fold(text).replace("/", " ").split()
    if _DIGIT.search(text):  # a word with a digit is a code or a number, not a name ("F0108")
        words = [w for w in words if not _DIGIT.search(w)]
    while words and words[0] in TITLES:
        words.pop(0)
    while words and words[-1] in SUFFIXES:
        words.pop()
    return words


def _readings(words: list[str], *, couple: bool = False) -> list[PersonName]:
    if len(words) < 2:
        # One word ("Charles", "Demetriou") may be either name: both readings are kept.
        if not words:
            return []
        return [PersonName((), words[0], couple=couple), PersonName((words[0],), "", couple=couple)]
    out = []
    for k in range(1, len(words)):
        out.append(PersonName(tuple(words[:k]), "".join(words[k:]), couple=couple))
    for k in range(1, len(words)):
        out.append(PersonName(tuple(words[k:]), "".join(words[:k]), swapped=True, couple=couple))
    return out


@lru_cache(maxsize=_CACHE)
def parse_name(name: str, first: str = "", last: str = "") -> tuple[PersonName, ...]:
    """Every plausible reading of a contact's name, best first.

    ``first``/``last`` are the contact's FirstName/LastName fields (often empty). The Name is
    read with its unique-making tail removed; "Last, First" by its comma; "A & B Last" as two
    people; otherwise every split of its words into given and family names, then the same
    splits with the surname first (a swapped entry)."""
    readings: list[PersonName] = []
    f, la = _tokens(first), _tokens(last)
    if f and la:
        readings.append(PersonName(tuple(f), "".join(la)))
        readings.append(PersonName(tuple(la), "".join(f), swapped=True))
    elif la and not f:
        readings.append(PersonName((), "".join(la)))
    elif f and not la:
        readings.append(PersonName(tuple(f), ""))
    text, _ = strip_name_tail(name)
    if "," in text:
        head, _, tail = text.partition(",")
        family, given = _tokens(head), _tokens(tail)
        if family and given:
            readings.append(PersonName(tuple(given), "".join(family)))
        text = f"{tail} {head}"
    folded = fold(text)
    if re.search(r"(?:^|\s)(?:&|and)(?:\s|$)", folded):
        parts = [p for p in re.split(r"\s(?:&|and)\s|&", folded) if p.strip()]
        people = [_tokens(p) for p in parts]
        people = [p for p in people if p]
        if len(people) >= 2:
            family_words = people[-1][1:] if len(people[-1]) > 1 else []
            for person in people:
                words = person if len(person) > 1 or not family_words else person + family_words
                readings.extend(_readings(words, couple=True))
            return tuple(dict.fromkeys(readings))
    readings.extend(_readings(_tokens(text)))
    return tuple(dict.fromkeys(readings))


# ---------------------------------------------------------------------------- companies

_COMPANY_WORDS = frozenset(
    [
        "pty",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "llc",
        "plc",
        "corp",
        "corporation",
        "company",
        "trust",
        "trustee",
        "trustees",
        "school",
        "schools",
        "college",
        "university",
        "tafe",
        "institute",
        "academy",
        "council",
        "shire",
        "department",
        "government",
        "association",
        "assn",
        "club",
        "church",
        "parish",
        "foundation",
        "society",
        "committee",
        "hospital",
        "clinic",
        "centre",
        "center",
        "group",
        "services",
        "service",
        "solutions",
        "holdings",
        "enterprises",
        "industries",
        "partners",
        "partnership",
        "consulting",
        "consultants",
        "agency",
        "australia",
        "australian",
        "plumbing",
        "electrical",
        "electrics",
        "construction",
        "constructions",
        "landscaping",
        "hospitality",
        "bakery",
        "automotive",
        "motors",
        "mechanical",
        "repairs",
        "carpentry",
        "joinery",
        "building",
        "builders",
        "security",
        "cleaning",
        "disability",
        "health",
        "logistics",
        "transport",
        "beauty",
        "fitness",
        "medical",
        "dental",
        "pharmacy",
        "cafe",
        "hotel",
        "solar",
        "conditioning",
        "roofing",
        "painting",
        "tiling",
        "concreting",
        "fencing",
        "care",
        "nursing",
        "accounting",
        "accountants",
        "estate",
        "pool",
        "pest",
        "refrigeration",
        "earthmoving",
        "scaffolding",
        "fabrication",
        "catering",
        "kitchens",
        "signs",
        "contractors",
        "gas",
        "veterinary",
        "supplies",
        "hardware",
        "glazing",
        "furniture",
        "traffic",
        "management",
        "warehousing",
        "childcare",
        "learning",
        "kindergarten",
        "preschool",
    ]
)
_COMPANY_PHRASES = re.compile(r"(?:&|\band) (?:co|sons|daughters|partners|associates)\b")
ROLE_MAILBOXES = frozenset(
    [
        "accounts",
        "account",
        "accountspayable",
        "accounts.payable",
        "ap",
        "admin",
        "administration",
        "payables",
        "payable",
        "office",
        "info",
        "enquiries",
        "enquiry",
        "reception",
        "finance",
        "billing",
        "invoices",
        "invoice",
        "hello",
        "contact",
        "sales",
        "bookings",
        "mail",
        "team",
        "hr",
        "payroll",
    ]
)


def company_reason(data: Mapping[str, Any]) -> str:
    """Why a contact is an organisation rather than a person ("" when it looks like a person).

    Companies never match learners. Signs: a business word in the Name (Pty Ltd, School,
    Council, "& Co", an industry), a role mailbox such as accounts@, an ABN in TaxNumber, or a
    supplier that is not a customer."""
    reason = _business_name(str(data.get("Name") or ""))
    if reason:
        return reason
    email = normalize_email(str(data.get("EmailAddress") or ""))
    if email.role:
        return f"the e-mail {email.address} is a role mailbox"
    if str(data.get("TaxNumber") or "").strip():
        return "it has a tax number (ABN)"
    if data.get("IsSupplier") is True and data.get("IsCustomer") is not True:
        return "it is a supplier, not a customer"
    return ""


@lru_cache(maxsize=_CACHE)
def _business_name(name: str) -> str:
    text, _ = strip_name_tail(name)
    folded = fold(text)
    hits = [w for w in folded.split() if w in _COMPANY_WORDS]
    if hits:
        return f"the Name contains {hits[0]!r}, a business word"
    if _COMPANY_PHRASES.search(folded):
        return 'the Name reads as a business ("& Co", "& Sons")'
    return ""


# ---------------------------------------------------------------------------- e-mails

# Providers that ignore dots in the local part (and the domains that alias each other).
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


@dataclass(frozen=True, slots=True)
class NormalEmail:
    """An e-mail as the mailbox it reaches: ``address`` is "" when it cannot be read."""

    address: str
    local: str
    domain: str
    role: bool = False
    raw: str = ""  # without its plus-tag but with the dots Gmail ignores

    def __bool__(self) -> bool:
        return bool(self.address)


_EMPTY_EMAIL = NormalEmail("", "", "")


@lru_cache(maxsize=_CACHE)
def normalize_email(text: str) -> NormalEmail:
    """Case, spaces, a ``mailto:``, plus-tags and (at Gmail) dots removed."""
    raw = "".join(text.split()).casefold()
    raw = raw.removeprefix("mailto:").strip("<>.,;")
    if raw.count("@") != 1:
        return _EMPTY_EMAIL
    local, domain = raw.split("@")
    domain = domain.strip(".")
    if not local or "." not in domain or not domain.replace(".", "").replace("-", "").isalnum():
        return _EMPTY_EMAIL
    local = local.split("+", 1)[0] or local
    raw = f"{local}@{domain}"
    if domain in _DOTLESS:
        domain = _DOTLESS[domain]
        local = local.replace(".", "") or local
    role = local.replace("_", "").replace("-", "") in ROLE_MAILBOXES or local in ROLE_MAILBOXES
    return NormalEmail(f"{local}@{domain}", local, domain, role, raw)


# ---------------------------------------------------------------------------- phones


@dataclass(frozen=True, slots=True)
class NormalPhone:
    """A phone number: ``number`` is national digits for Australia ("0412345678"), E.164 for
    others; ``tail`` the last 8 digits (a landline typed without its area code still agrees);
    ``kind`` is mobile, landline, service (13/1300/1800) or other."""

    number: str
    tail: str
    kind: str

    def __bool__(self) -> bool:
        return bool(self.number)


_EMPTY_PHONE = NormalPhone("", "", "")


@lru_cache(maxsize=_CACHE)
def normalize_phone(text: str, area_code: str = "") -> NormalPhone:
    """An Australian-default phone number in one form, whichever way it was typed."""
    digits = "".join(c for c in f"{area_code}{text}" if c.isdigit())
    plus = text.strip().startswith("+") or area_code.strip().startswith("+")
    if digits.startswith("0061"):
        digits, plus = digits[2:], True
    if (plus or len(digits) == 11) and digits.startswith("61") and len(digits) == 11:
        digits = "0" + digits[2:]
        plus = False
    if not plus:
        if len(digits) == 9 and digits[0] in "2378" and not area_code:
            digits = "0" + digits
        if len(digits) == 10 and digits[:2] in ("04", "05"):
            return NormalPhone(digits, digits[-8:], "mobile")
        if len(digits) == 10 and digits[:2] in ("02", "03", "07", "08"):
            return NormalPhone(digits, digits[-8:], "landline")
        if len(digits) == 8 and digits[0] != "0":
            return NormalPhone(digits, digits, "landline")
        if digits.startswith(("13", "18")) and len(digits) in (6, 10):
            return NormalPhone(digits, digits[-8:], "service")
    try:
        parsed = phonenumbers.parse(text if plus else digits, "AU")
    except phonenumbers.NumberParseException:
        return _EMPTY_PHONE
    if not phonenumbers.is_valid_number(parsed):
        return _EMPTY_PHONE
    kind = {
        phonenumbers.PhoneNumberType.MOBILE: "mobile",
        phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
    }.get(phonenumbers.number_type(parsed), "other")
    if parsed.country_code == 61:  # an Australian number in a form not read above
        national = f"0{parsed.national_number}"
        return NormalPhone(national, national[-8:], kind)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return NormalPhone(e164, e164[-8:], kind)


# ---------------------------------------------------------------------------- addresses

STREET_TYPES: Mapping[str, str] = {
    "street": "st",
    "st": "st",
    "road": "rd",
    "rd": "rd",
    "avenue": "ave",
    "av": "ave",
    "ave": "ave",
    "drive": "dr",
    "dve": "dr",
    "drv": "dr",
    "dr": "dr",
    "court": "ct",
    "crt": "ct",
    "ct": "ct",
    "place": "pl",
    "pl": "pl",
    "crescent": "cres",
    "cres": "cres",
    "cr": "cres",
    "crs": "cres",
    "close": "cl",
    "cl": "cl",
    "parade": "pde",
    "pde": "pde",
    "terrace": "tce",
    "tce": "tce",
    "terr": "tce",
    "lane": "ln",
    "ln": "ln",
    "highway": "hwy",
    "hwy": "hwy",
    "boulevard": "blvd",
    "blvd": "blvd",
    "circuit": "cct",
    "cct": "cct",
    "way": "way",
    "grove": "gr",
    "gr": "gr",
    "gve": "gr",
    "square": "sq",
    "sq": "sq",
    "esplanade": "esp",
    "esp": "esp",
    "parkway": "pkwy",
    "pkwy": "pkwy",
    "rise": "rise",
    "mews": "mews",
    "walk": "walk",
    "track": "trk",
    "trk": "trk",
    "loop": "loop",
    "row": "row",
    "street.": "st",
}
STATES: Mapping[str, str] = {
    "new south wales": "NSW",
    "nsw": "NSW",
    "victoria": "VIC",
    "vic": "VIC",
    "queensland": "QLD",
    "qld": "QLD",
    "south australia": "SA",
    "sa": "SA",
    "western australia": "WA",
    "wa": "WA",
    "tasmania": "TAS",
    "tas": "TAS",
    "northern territory": "NT",
    "nt": "NT",
    "australian capital territory": "ACT",
    "act": "ACT",
}
_STATE_CODES = frozenset(STATES.values())
_UNIT_WORDS = frozenset(
    ["unit", "u", "apartment", "apt", "flat", "suite", "shop", "level", "lvl", "villa", "townhouse"]
)
_POBOX = re.compile(r"^(?:p\s*o|g\s*p\s*o|post office|locked|private)\s*(?:box|bag)\s*(\w+)")


@dataclass(frozen=True, slots=True)
class NormalAddress:
    """An address in one form: ``line`` like "2/14 smith st" or "po box 12"; ``state`` a code."""

    line: str
    suburb: str
    state: str
    postcode: str

    def __bool__(self) -> bool:
        return bool(self.line or self.suburb or self.postcode)


def _street_line(text: str) -> str:
    folded = fold(text)
    box = _POBOX.match(folded)
    if box:
        return f"po box {box.group(1)}"
    words = folded.replace("/", " / ").split()
    unit = ""
    if words and words[0] in _UNIT_WORDS and len(words) > 1:
        unit, words = words[1], words[2:]
    elif words and re.fullmatch(r"u\d+\w?", words[0]):
        unit, words = words[0][1:], words[1:]
    if len(words) >= 3 and words[1] == "/":
        unit, words = words[0], words[2:]
    if unit and words and words[0] in _UNIT_WORDS:
        words = words[1:]
    words = [STREET_TYPES.get(w, w) for w in words]
    line = " ".join(words)
    return f"{unit}/{line}" if unit and line else line


@lru_cache(maxsize=_CACHE)
def normalize_address(
    line: str, suburb: str = "", state: str = "", postcode: str = ""
) -> NormalAddress:
    """Street types abbreviated one way, unit forms as "2/14", state names as codes, postcodes
    in one form: Australian ones as four digits ("800" -> "0800", "NSW 2150" -> "2150"),
    others (British, Canadian) as their letters and digits ("dl12 0ds" -> "DL120DS")."""
    st = STATES.get(fold(state), fold(state).upper())
    return NormalAddress(_street_line(line), fold(suburb), st, _postcode(postcode))


@lru_cache(maxsize=_CACHE)
def _postcode(text: str) -> str:
    words = [w for w in fold(text).split() if w.upper() not in _STATE_CODES]
    code = "".join(words).upper()
    if code.isdigit():
        return code.zfill(4) if 3 <= len(code) <= 4 else code
    return code if any(c.isdigit() for c in code) else ""


def contact_addresses(data: Mapping[str, Any]) -> list[NormalAddress]:
    """The non-empty addresses of a Xero contact's JSON."""
    out = []
    for a in _mappings(data.get("Addresses")):
        line = " ".join(str(a.get(f"AddressLine{i}") or "") for i in range(1, 5))
        address = normalize_address(
            line,
            str(a.get("City") or ""),
            str(a.get("Region") or ""),
            str(a.get("PostalCode") or ""),
        )
        if address:
            out.append(address)
    return out


def contact_phones(data: Mapping[str, Any]) -> list[NormalPhone]:
    """The readable phone numbers of a Xero contact's JSON (fax numbers left out)."""
    out = []
    for p in _mappings(data.get("Phones")):
        if str(p.get("PhoneType") or "").upper() == "FAX":
            continue
        phone = normalize_phone(str(p.get("PhoneNumber") or ""), str(p.get("PhoneAreaCode") or ""))
        if phone:
            out.append(phone)
    return out


def _mappings(value: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if type(v) is dict or isinstance(v, Mapping)]
    return []
