"""Money: ``Decimal`` amounts quantized to a currency's minor unit.

No float ever touches an amount. Amounts arrive as strings (``"1234.50"``) or
``Decimal`` and leave as strings with exactly the currency's number of decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units of the currencies a European or international company meets.
# A currency missing here is "unknown": documents in it are quarantined, not guessed at.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "HRK": 2,
    "BAM": 2,
    "RSD": 2,
    "HUF": 2,
    "CZK": 2,
    "PLN": 2,
    "RON": 2,
    "BGN": 2,
    "DKK": 2,
    "SEK": 2,
    "NOK": 2,
    "ISK": 0,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CNY": 2,
    "HKD": 2,
    "SGD": 2,
    "INR": 2,
    "TRY": 2,
    "ZAR": 2,
    "BRL": 2,
    "MXN": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "AED": 2,
    "SAR": 2,
    "ILS": 2,
    "UAH": 2,
    "MKD": 2,
    "ALL": 2,
}

# Larger than any real journal line (a quadrillion); beyond it an amount is a typo or an attack.
MAX_AMOUNT = Decimal("1000000000000000")

ZERO = Decimal("0")
HUNDRED = Decimal("100")


class AmountError(ValueError):
    """An amount that cannot be read as money (float, separators, junk, too large)."""


def is_known_currency(currency: str) -> bool:
    """True when ``currency`` is an ISO 4217 code that ledgerpilot knows the minor unit of."""
    return currency in MINOR_UNITS


def minor_unit(currency: str) -> int:
    """Number of decimals of ``currency``; 2 for an unknown one (it is reported elsewhere)."""
    return MINOR_UNITS.get(currency, 2)


_QUANTS = {n: Decimal(1).scaleb(-n) for n in range(0, 5)}


def quantize(amount: Decimal, currency: str = "EUR") -> Decimal:
    """Round ``amount`` half-up to the minor unit of ``currency``."""
    return amount.quantize(_QUANTS[minor_unit(currency)], rounding=ROUND_HALF_UP)


def parse_amount(value: object, currency: str | None = None) -> Decimal:
    """Read an amount given as a string (or ``Decimal`` / ``int``) into ``Decimal``.

    Accepts ``"1234.5"``, ``"-12.00"``, ``Decimal``, ``int``. Refuses floats (their value is
    already rounded in binary), thousands separators and decimal commas (``"1,234.50"``
    and ``"1.234,50"`` are ambiguous), exponents, NaN and infinities, amounts of
    ``MAX_AMOUNT`` or more, and, when ``currency`` is given, more decimals than it has.
    Raises :class:`AmountError` with a message a bookkeeper can act on.
    """
    if isinstance(value, bool):
        raise AmountError(f'amount must be a string like "123.45", got {value!r}')
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        raise AmountError(f'amount must be a string like "123.45", got the JSON number {value!r}')
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise AmountError("amount is empty")
        if len(text) > 40:
            raise AmountError(f"amount is not a number: {text[:40]!r}...")
        if "," in text or " " in text or "'" in text or "_" in text:
            raise AmountError(
                f'amount {text!r} has a separator; write it as "1234.50" '
                "(no thousands separator, a point for decimals)"
            )
        if any(c not in "0123456789.-+" for c in text):
            raise AmountError(f"amount is not a number: {text!r}")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise AmountError(f"amount is not a number: {text!r}") from None
    else:
        raise AmountError(f'amount must be a string like "123.45", got {type(value).__name__}')
    if not number.is_finite():
        raise AmountError(f"amount is not a finite number: {value!r}")
    if abs(number) >= MAX_AMOUNT:
        raise AmountError(f"amount {number} is absurdly large")
    if currency is not None:
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)  # finite numbers have an int exponent
        decimals = max(0, -exponent)
        if decimals > minor_unit(currency) and number != quantize(number, currency):
            raise AmountError(
                f"amount {number} has more decimals than {currency} allows ({minor_unit(currency)})"
            )
    return number


def format_amount(amount: Decimal, currency: str = "EUR") -> str:
    """The canonical string of an amount: quantized, plain notation (``"1234.50"``)."""
    return f"{quantize(amount, currency):f}"


def tax_on(net: Decimal, rate_percent: Decimal, currency: str = "EUR") -> Decimal:
    """VAT at ``rate_percent`` on ``net``, rounded half-up to the currency (per line)."""
    return quantize(net * rate_percent / HUNDRED, currency)
