"""Random streams and day arithmetic shared by the simulator modules.

Days are ints counted from 1970-01-01, so whole columns of dates are plain int arrays.
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)


def stream(seed: int, *names: str | int) -> np.random.Generator:
    """An independent generator per purpose, so adding draws in one place leaves the others unchanged."""
    keys = [int(seed)] + [zlib.crc32(n.encode()) if isinstance(n, str) else int(n) for n in names]
    return np.random.default_rng(np.random.SeedSequence(keys))


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_date(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


_TABLES: dict[str, tuple[int, np.ndarray]] = {}


def _format_days(lo: int, hi: int, fmt: str) -> np.ndarray:
    days = np.arange(lo, hi + 1, dtype="int64").astype("datetime64[D]")
    if fmt == "iso":
        return np.datetime_as_string(days, unit="D").astype(object)
    year = days.astype("datetime64[Y]")
    month = days.astype("datetime64[M]")
    y = year.astype(np.int64) + 1970
    m = (month - year).astype(np.int64) + 1
    d = (days - month).astype(np.int64) + 1
    return int_strings(m) + "/" + int_strings(d) + "/" + int_strings(y)


def date_strings(days: np.ndarray, fmt: str = "iso") -> np.ndarray:
    """Object array of date strings: fmt "iso" gives yyyy-MM-dd, "mdy" gives M/d/yyyy.

    Strings come from a per-format table of consecutive days that grows to cover what is asked.
    """
    days = np.asarray(days, dtype=np.int64)
    if not len(days):
        return np.zeros(0, dtype=object)
    lo, hi = int(days.min()), int(days.max())
    t_lo, table = _TABLES.get(fmt, (lo, np.zeros(0, dtype=object)))
    t_hi = t_lo + len(table) - 1
    if lo < t_lo or hi > t_hi or not len(table):
        new_lo, new_hi = (min(lo, t_lo), max(hi, t_hi)) if len(table) else (lo, hi)
        t_lo, table = new_lo, _format_days(new_lo, new_hi, fmt)
        _TABLES[fmt] = (t_lo, table)
    return table[days - t_lo]


def date_string(day: int, fmt: str = "iso") -> str:
    return str(date_strings(np.array([day]), fmt)[0])


def int_strings(values: np.ndarray) -> np.ndarray:
    """Object array of decimal strings (str() over a list beats numpy's own int-to-str casts here)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(map(str, np.asarray(values, dtype=np.int64).tolist()))
    return out
