"""Column functions that turn bronze text into silver values: each returns null when the text does not parse.

A null result for a non-null source value is what the `valid_*` rules catch, so nothing here raises: every
function is safe under ANSI mode too (casts and make_date only run inside the branch that validated them).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

ISO_DATE = r"^(\d{4})-(\d{1,2})-(\d{1,2})$"
US_DATE = r"^(\d{1,2})/(\d{1,2})/(\d{4})$"  # payments_v2's M/d/yyyy
WHOLE_NUMBER = r"^[0-9]{1,18}$"
AMOUNT = r"^-?[0-9]{1,10}([.][0-9]{1,2})?$"  # fits DECIMAL(12,2) exactly, no rounding


def text(c: Column | str) -> Column:
    """Trimmed text (tabs and newlines too, not only spaces), null when empty."""
    c = F.col(c) if isinstance(c, str) else c
    trimmed = F.regexp_replace(c, r"^\s+|\s+$", "")
    return F.when(trimmed != "", trimmed)


def whole_number(c: Column | str) -> Column:
    t = text(c)
    return F.when(t.rlike(WHOLE_NUMBER), t.cast("bigint"))


def exact_amount(c: Column | str) -> Column:
    t = text(c)
    return F.when(t.rlike(AMOUNT), t.cast("decimal(12,2)"))


def any_date(c: Column | str) -> Column:
    """A date written yyyy-MM-dd or M/d/yyyy; null for anything else, including 2024-02-30."""
    t = text(c)
    iso, us = t.rlike(ISO_DATE), t.rlike(US_DATE)

    def part(iso_group: int, us_group: int) -> Column:
        return F.coalesce(F.when(iso, F.regexp_extract(t, ISO_DATE, iso_group)),
                          F.when(us, F.regexp_extract(t, US_DATE, us_group))).cast("int")

    y, m, d = part(1, 3), part(2, 1), part(3, 2)
    plausible = y.between(1, 9999) & m.between(1, 12) & (d >= 1)
    month_days = F.dayofmonth(F.last_day(F.make_date(y, m, F.lit(1))))
    return F.when(plausible, F.when(d <= month_days, F.make_date(y, m, d)))


def canonical(c: Column | str, values: tuple[str, ...]) -> Column:
    """The listed spelling of a value given in any case or padding (` paypal ` -> `PayPal`); else the text."""
    t = text(c)
    lowered = F.lower(t)
    out = None
    for v in values:
        out = (F.when(lowered == v.lower(), F.lit(v)) if out is None
               else out.when(lowered == v.lower(), F.lit(v)))
    return out.otherwise(t)


def yes_no(c: Column | str) -> Column:
    lowered = F.lower(text(c))
    return F.when(lowered == "yes", True).when(lowered == "no", False)


def lower_email(c: Column | str) -> Column:
    return F.lower(text(c))


def digits_only(c: Column | str) -> Column:
    """Phone numbers without punctuation: '(555) 123-4567' -> '5551234567'."""
    digits = F.regexp_replace(text(c), "[^0-9]", "")
    return F.when(digits != "", digits)
