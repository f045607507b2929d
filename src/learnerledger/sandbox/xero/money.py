"""Money as Xero counts it: Decimal throughout, rounded half up to cents.

Line amounts, tax and totals are computed here and nowhere else. Amounts are quantised to two
decimal places with ``ROUND_HALF_UP`` (0.005 becomes 0.01), the rounding accountants expect and
the one Xero's totals show; unit amounts keep four decimals when the request asks for
``unitdp=4`` and two otherwise; quantities keep four. Tax is computed per line and summed, so the
total of an invoice is always the sum of what its lines show.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "MAX_AMOUNT",
    "TAX_RATES",
    "ZERO",
    "Line",
    "LineResult",
    "Totals",
    "cents",
    "compute_line",
    "from_cents",
    "q2",
    "quantity",
    "totals",
    "unit",
]

ZERO = Decimal("0.00")
_CENT = Decimal("0.01")
_PLACES = {2: _CENT, 4: Decimal("0.0001")}
_HUNDRED = Decimal(100)

# Amounts beyond this are refused: no training provider invoices a trillion dollars, and cents
# must fit the store's integer columns.
MAX_AMOUNT = Decimal("1000000000000")

# The Australian GST tax types of an organisation's default tax rates, with their rates in
# percent. Sales of accredited training are GST free (EXEMPTOUTPUT); other sales carry 10%.
TAX_RATES: dict[str, Decimal] = {
    "OUTPUT": Decimal(10),
    "INPUT": Decimal(10),
    "CAPEXINPUT": Decimal(10),
    "GSTONIMPORTS": Decimal(0),
    "GSTONCAPIMPORTS": Decimal(0),
    "EXEMPTOUTPUT": Decimal(0),
    "EXEMPTEXPENSES": Decimal(0),
    "EXEMPTCAPITAL": Decimal(0),
    "EXEMPTEXPORT": Decimal(0),
    "INPUTTAXED": Decimal(0),
    "BASEXCLUDED": Decimal(0),
}


def q2(amount: Decimal) -> Decimal:
    """Rounded half up to cents."""
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def unit(amount: Decimal, unitdp: int) -> Decimal:
    return amount.quantize(_PLACES[unitdp], rounding=ROUND_HALF_UP)


def quantity(amount: Decimal) -> Decimal:
    return amount.quantize(_PLACES[4], rounding=ROUND_HALF_UP)


def cents(amount: Decimal) -> int:
    return int(q2(amount).scaleb(2))


def from_cents(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


@dataclass(frozen=True)
class Line:
    """What a line item says about money, as sent (None where the field was left out)."""

    quantity: Decimal | None
    unit_amount: Decimal | None
    line_amount: Decimal | None
    discount_rate: Decimal | None
    discount_amount: Decimal | None
    tax_rate: Decimal  # percent; 0 when the line has no tax type
    tax_amount: Decimal | None


@dataclass(frozen=True)
class LineResult:
    quantity: Decimal
    unit_amount: Decimal
    line_amount: Decimal
    tax_amount: Decimal
    discount: Decimal  # how much the discount took off, for TotalDiscount
    error: str | None = None


def compute_line(line: Line, amount_types: str, unitdp: int) -> LineResult:
    """Quantity, unit amount, line amount and tax of one line. Xero fills in whichever of
    Quantity, UnitAmount and LineAmount is missing; when all three are given they must agree
    (``error`` then holds Xero's message)."""
    qty = quantity(line.quantity) if line.quantity is not None else None
    price = unit(line.unit_amount, unitdp) if line.unit_amount is not None else None
    sent_amount = q2(line.line_amount) if line.line_amount is not None else None
    error: str | None = None
    if price is None and sent_amount is None:
        qty, price, amount = qty if qty is not None else ZERO, ZERO, ZERO
    elif price is None:
        assert sent_amount is not None
        qty = qty if qty is not None and qty != 0 else Decimal(1)
        price = unit(sent_amount / qty, unitdp)
        amount = sent_amount
    else:
        if qty is None:
            qty = quantity(sent_amount / price) if sent_amount is not None and price else Decimal(1)
        gross = qty * price
        if line.discount_rate is not None:
            amount = q2(gross * (_HUNDRED - line.discount_rate) / _HUNDRED)
        elif line.discount_amount is not None:
            amount = q2(gross - line.discount_amount)
        else:
            amount = q2(gross)
        if sent_amount is not None and sent_amount != amount:
            error = f"The line total {sent_amount} does not match the expected line total {amount}"
    discount = q2(qty * price) - amount if line.discount_rate or line.discount_amount else ZERO
    if line.tax_amount is not None:
        tax = q2(line.tax_amount)  # Xero lets a client override the computed tax
    elif amount_types == "NoTax" or not line.tax_rate:
        tax = ZERO
    elif amount_types == "Inclusive":
        tax = q2(amount * line.tax_rate / (_HUNDRED + line.tax_rate))
    else:
        tax = q2(amount * line.tax_rate / _HUNDRED)
    return LineResult(quantity(qty), price, amount, tax, discount, error)


@dataclass(frozen=True)
class Totals:
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    total_discount: Decimal


def totals(lines: list[LineResult], amount_types: str) -> Totals:
    """SubTotal, TotalTax and Total: with tax-inclusive lines the line amounts already hold
    the tax, so the subtotal is what remains without it."""
    line_sum = sum((r.line_amount for r in lines), ZERO)
    tax = sum((r.tax_amount for r in lines), ZERO)
    discount = sum((r.discount for r in lines), ZERO)
    if amount_types == "Inclusive":
        return Totals(line_sum - tax, tax, line_sum, discount)
    return Totals(line_sum, tax, line_sum + tax, discount)
