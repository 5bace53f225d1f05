"""Customers, their addresses and phones, and the agent roster, drawn as whole arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import domains as d
from .util import int_strings


@dataclass
class Customers:
    """One entry per customer, index i holds customer_id i + 1 (ids follow signup order)."""

    signup: np.ndarray  # day number
    dob: np.ndarray  # day number
    gender: np.ndarray  # 0 = M, 1 = F
    first: np.ndarray  # index into FIRST_NAMES
    last: np.ndarray  # index into LAST_NAMES
    email: np.ndarray  # object array of str
    username: np.ndarray
    password: np.ndarray
    country: np.ndarray  # index into COUNTRIES
    city0: np.ndarray  # first location, index into LOCATIONS
    city_step: np.ndarray  # k-th address is city0 + k * step within the country (prime-sized)

    @property
    def n(self) -> int:
        return len(self.signup)

    @property
    def ids(self) -> np.ndarray:
        return np.arange(1, self.n + 1, dtype=np.int64)

    @staticmethod
    def concat(parts: list[Customers]) -> Customers:
        fields = Customers.__dataclass_fields__
        return Customers(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in fields})


FIRST_NAMES = d.MALE_NAMES + d.FEMALE_NAMES
LAST_NAMES = d.LAST_NAMES
_COUNTRY_OF_LOCATION = np.array([d.COUNTRIES.index(loc[0]) for loc in d.LOCATIONS])
COUNTRY_OFFSET = np.array([int(np.argmax(_COUNTRY_OF_LOCATION == c)) for c in range(len(d.COUNTRIES))])
COUNTRY_SIZE = np.bincount(_COUNTRY_OF_LOCATION, minlength=len(d.COUNTRIES))


def _lower_table(names: tuple[str, ...], width: int) -> np.ndarray:
    return np.array([n.lower()[:width] for n in names], dtype=object)


SIGNUP_GROWTH = 4.0  # the sign-up rate at the end of the history is 1 + SIGNUP_GROWTH times the first


def draw_signups(rng: np.random.Generator, n: int, first_day: int, last_day: int) -> np.ndarray:
    """Signup days with a linearly growing rate."""
    span = last_day - first_day + 1
    g = SIGNUP_GROWTH  # density ∝ 1 + g * t / span
    u = rng.random(n)
    t = (-1 + np.sqrt(1 + g * (2 + g) * u)) / g  # inverse CDF of the normalised density on [0, 1]
    return np.sort(first_day + np.minimum((t * span).astype(np.int64), span - 1))


def make_customers(rng: np.random.Generator, signup: np.ndarray, first_id: int = 1) -> Customers:
    n = len(signup)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    gender = (rng.random(n) < 0.5).astype(np.int8)
    n_m, n_f = len(d.MALE_NAMES), len(d.FEMALE_NAMES)
    first = np.where(gender == 0, rng.integers(0, n_m, n), n_m + rng.integers(0, n_f, n))
    last = rng.integers(0, len(LAST_NAMES), n)
    age_years = np.clip(18 + rng.gamma(2.2, 8.0, n), 18, 88)
    dob = signup - (age_years * 365.25).astype(np.int64)

    id_s = int_strings(ids)
    fn6, ln6 = _lower_table(FIRST_NAMES, 6)[first], _lower_table(LAST_NAMES, 6)[last]
    fn1 = _lower_table(FIRST_NAMES, 1)[first]
    domain = np.array(d.EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(d.EMAIL_DOMAINS), n)]
    pattern = rng.integers(0, 3, n)
    local = np.where(pattern == 0, fn6 + "." + ln6, np.where(pattern == 1, fn1 + ln6, ln6 + "." + fn6))
    email = local + id_s + "@" + domain

    fn8, ln4 = _lower_table(FIRST_NAMES, 8)[first], _lower_table(LAST_NAMES, 4)[last]
    username = np.where(rng.random(n) < 0.6, fn8 + "_" + ln4, fn8 + ln4) + id_s

    country = rng.choice(len(d.COUNTRIES), size=n, p=np.array(d.COUNTRY_WEIGHTS) / sum(d.COUNTRY_WEIGHTS))
    size = COUNTRY_SIZE[country]
    city0 = COUNTRY_OFFSET[country] + (rng.random(n) * size).astype(np.int64)
    city_step = 1 + (rng.random(n) * (size - 1)).astype(np.int64)
    return Customers(
        signup=signup, dob=dob, gender=gender, first=first, last=last, email=email, username=username,
        password=make_passwords(rng, n), country=country, city0=city0, city_step=city_step,
    )


def make_passwords(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique 8-16 character passwords with upper and lower case letters, digits and symbols."""
    classes = [
        d.PASSWORD_LETTERS[26:], d.PASSWORD_LETTERS[:26], d.PASSWORD_DIGITS, d.PASSWORD_SYMBOLS,
    ] + [d.PASSWORD_LETTERS + d.PASSWORD_DIGITS + d.PASSWORD_SYMBOLS] * (d.PASSWORD_MAX - 4)
    out = np.empty(n, dtype=object)
    todo = np.arange(n)
    while len(todo):
        m = len(todo)
        chars = np.empty((m, d.PASSWORD_MAX), dtype="<U1")
        for j, alphabet in enumerate(classes):
            pool = np.array(list(alphabet), dtype="<U1")
            chars[:, j] = pool[rng.integers(0, len(pool), m)]
        length = rng.integers(d.PASSWORD_MIN, d.PASSWORD_MAX + 1, m)
        keys = rng.random((m, d.PASSWORD_MAX))
        keys[np.arange(d.PASSWORD_MAX)[None, :] >= length[:, None]] = 2.0  # unused tail stays at the end
        chars = np.take_along_axis(chars, np.argsort(keys, axis=1), axis=1)
        chars[np.arange(d.PASSWORD_MAX)[None, :] >= length[:, None]] = ""
        out[todo] = np.ascontiguousarray(chars).view(f"<U{d.PASSWORD_MAX}").ravel().astype(object)
        _, first_seen = np.unique(out.astype(str), return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first_seen] = False
        todo = np.flatnonzero(dup)
    return out


def address_location(customers: Customers, idx: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Location of the k-th address (0-based) of customers idx; distinct for k below the country's size."""
    country = customers.country[idx]
    off, size = COUNTRY_OFFSET[country], COUNTRY_SIZE[country]
    return off + (customers.city0[idx] - off + k * customers.city_step[idx]) % size


def make_phone_numbers(rng: np.random.Generator, n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """Distinct 10-digit numbers (first digit 2-9), none of them in `taken`."""
    taken = np.zeros(0, dtype=np.int64) if taken is None else taken
    out = np.zeros(0, dtype=np.int64)
    while len(out) < n:
        cand = rng.integers(2_000_000_000, 10_000_000_000, (n - len(out)) * 2 + 8)
        cand = cand[~np.isin(cand, taken) & ~np.isin(cand, out)]
        _, first_seen = np.unique(cand, return_index=True)
        cand = cand[np.sort(first_seen)]
        out = np.concatenate([out, cand[: n - len(out)]])
    return out


@dataclass
class Agents:
    first: np.ndarray
    last: np.ndarray

    @property
    def n(self) -> int:
        return len(self.first)


def make_agents(rng: np.random.Generator, n: int) -> Agents:
    return Agents(first=rng.integers(0, len(FIRST_NAMES), n), last=rng.integers(0, len(LAST_NAMES), n))
