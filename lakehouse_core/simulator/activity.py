"""Customer behaviour over time: transactions, interactions and churn, in 90-day steps.

Time is cut into 90-day windows (b_j, b_j+90] aligned on the training cutoff. At each boundary b_j every
live customer gets a hidden churn probability from what the lake can observe up to b_j (unresolved
complaints, refunds, pending payments, falling activity, short tenure, preferred channel) plus noise;
a churner's last active day falls inside the next window, and they stop transacting and interacting
from their churn day on. The two named cutoffs are two of these boundaries, so P(churn in (c, c+90] |
behaviour up to c) is exactly the hidden probability written to the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from . import domains as d
from .util import day_number, stream

STEP = 90
V2_LAUNCH = day_number(date(2022, 1, 1))
V2_SHARE = 0.3

# Behaviour knobs. Rates are per day while active.
TX_PER_STEP = 4.0  # mean transactions in 90 active days
TX_MIN_PER_STEP = 3.0  # floor, so a live customer rarely goes 90 days without a transaction
INT_PER_STEP = 1.4
WALK_KEEP, WALK_SD = 0.55, 0.45  # per-step AR(1) of log activity: gives "falling activity"
CHURN_DAY_MEAN = 3.0  # mean days from the cutoff to the churn day, for those who churn

# Hidden churn model: logit = INTERCEPT + sum(weight * feature) + N(0, NOISE_SD).
INTERCEPT = -3.5
W_UNRESOLVED = 1.6  # unresolved or pending complaints in the last 180 days (capped at 3)
W_REFUNDS = 0.7  # refunds in the last 180 days (capped at 4)
W_PENDING = 1.1  # pending payments in the last 180 days (capped at 3)
W_DROP = 2.6  # log ratio of earlier quarterly activity to the last 90 days (clipped to [-1, 2])
W_NEW = 4.0  # exp(-tenure / 120 days): new customers leave more often
W_CHAT, W_PHONE = 0.8, -0.5  # most used contact channel so far
NOISE_SD = 0.6


@dataclass
class Timeline:
    history_start: int
    start: int  # batch 1 (initial load) day; activity of this day is not delivered
    end: int  # last batch day
    train_cutoff: int
    eval_cutoff: int

    @property
    def boundaries(self) -> np.ndarray:
        first = self.train_cutoff - STEP * int(np.ceil((self.train_cutoff - self.history_start + 1) / STEP))
        last = self.train_cutoff + STEP * int(np.ceil((self.end - self.train_cutoff) / STEP))
        return np.arange(first, last + 1, STEP, dtype=np.int64)


@dataclass
class Latents:
    tx_rate: np.ndarray
    int_rate: np.ndarray
    dissatisfaction: np.ndarray
    pay_trouble: np.ndarray
    channel: np.ndarray
    method: np.ndarray
    currency: np.ndarray
    amount_mu: np.ndarray


@dataclass
class Events:
    """Columns of one event table; `cust` is the customer index (customer_id - 1)."""

    cols: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.cols["cust"])

    def take(self, idx: np.ndarray) -> Events:
        return Events({k: v[idx] for k, v in self.cols.items()})

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]


@dataclass
class Activity:
    tx: Events  # cust, day, cents, currency, ttype, method, status, system
    interactions: Events  # cust, day, itype, outcome, follow, channel, follow_day
    churn_day: np.ndarray  # per customer; a large number for those who never churn
    truth: dict[str, np.ndarray]  # cust, cutoff, probability, churned


def draw_latents(rng: np.random.Generator, n: int, country: np.ndarray) -> Latents:
    shape = 4.0
    tx = np.maximum(rng.gamma(shape, TX_PER_STEP / shape, n), TX_MIN_PER_STEP) / STEP
    dissatisfaction = rng.beta(1.2, 4.0, n)
    # Unhappy customers get in touch more often, so complaints pile up where churn risk is.
    contact = (0.3 + 3.0 * dissatisfaction) / (0.3 + 3.0 * 1.2 / 5.2)  # mean 1 over the Beta(1.2, 4)
    inter = rng.gamma(2.0, 0.5, n) * contact * INT_PER_STEP / STEP
    home_ccy = np.array([d.CURRENCIES.index(c) for c in d.COUNTRY_CURRENCY])[country]
    currency = np.where(rng.random(n) < 0.9, home_ccy, rng.integers(0, 3, n))
    return Latents(
        tx_rate=tx, int_rate=inter,
        dissatisfaction=dissatisfaction, pay_trouble=rng.beta(0.6, 5.0, n),
        channel=rng.choice(3, size=n, p=[0.4, 0.35, 0.25]), method=rng.choice(3, size=n, p=[0.45, 0.35, 0.2]),
        currency=currency, amount_mu=np.log(95.0) + rng.normal(0, 0.5, n),
    )


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from an (n, k) array of probabilities."""
    u = rng.random(len(probs))
    return (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


def _transactions(rng: np.random.Generator, cust: np.ndarray, day: np.ndarray, lat: Latents) -> dict:
    n = len(cust)
    dis, trouble = lat.dissatisfaction[cust], lat.pay_trouble[cust]
    p_refund = 0.02 + 0.10 * dis
    ttype = (rng.random(n) < p_refund).astype(np.int8)  # 1 = Refund
    u = rng.random(n)
    p_pending = 0.005 + 0.3 * trouble
    purchase_status = np.where(u < p_pending, 2, np.where(u < p_pending + 0.5 * p_refund, 1, 0))
    refund_status = np.where(u < 0.05, 2, np.where(u < 0.25, 0, 1))
    status = np.where(ttype == 1, refund_status, purchase_status).astype(np.int8)
    method = np.where(rng.random(n) < 0.75, lat.method[cust], rng.integers(0, 3, n)).astype(np.int8)
    currency = np.where(rng.random(n) < 0.92, lat.currency[cust], rng.integers(0, 3, n)).astype(np.int8)
    cents = np.exp(lat.amount_mu[cust] + rng.normal(0, 0.85, n)) * 100
    cents = np.clip(np.round(cents), d.AMOUNT_MIN_CENTS, d.AMOUNT_MAX_CENTS).astype(np.int32)
    system = ((day >= V2_LAUNCH) & (rng.random(n) < V2_SHARE)).astype(np.int8)
    # Drawn here, per event, so that what happens to a row later never depends on how many days are written.
    return {"cust": cust, "day": day, "cents": cents, "currency": currency, "ttype": ttype, "method": method,
            "status": status, "system": system,
            "settle_lag": (1 + rng.poisson(2, n)).astype(np.int32),  # days until a Pending payment settles
            "settled_status": np.where(rng.random(n) < 0.8, 0, 1).astype(np.int8),  # Completed / Refunded
            "resend_u": rng.random(n, dtype=np.float32),  # payments_v2 re-sends it when below the share
            "resend_lag": (rng.random(n) < 0.3).astype(np.int8)}


OUTCOME_BY_TYPE = np.array([
    # Resolved, Implemented, Unresolved, Pending (complaints are overridden per customer below)
    [0.0, 0.0, 0.0, 0.0],
    [0.35, 0.35, 0.15, 0.15],
    [0.70, 0.0, 0.15, 0.15],
])


def _interactions(rng: np.random.Generator, cust: np.ndarray, day: np.ndarray, lat: Latents) -> dict:
    n = len(cust)
    dis = lat.dissatisfaction[cust]
    p_complaint = 0.15 + 0.5 * dis
    u = rng.random(n)
    itype = np.where(u < p_complaint, 0, np.where(u < p_complaint + 0.35 * (1 - p_complaint), 1, 2))
    probs = OUTCOME_BY_TYPE[itype].copy()
    bad = 0.2 + 0.45 * dis
    complaint = itype == 0
    probs[complaint] = np.column_stack([1 - bad, np.zeros(n), 0.6 * bad, 0.4 * bad])[complaint]
    outcome = _pick(rng, probs).astype(np.int8)
    open_case = outcome >= 2
    follow = np.where(open_case, rng.random(n) < 0.85, rng.random(n) < 0.1)
    follow_day = np.where(follow, day + 1 + rng.poisson(5, n), -1)
    channel = np.where(rng.random(n) < 0.7, lat.channel[cust], rng.integers(0, 3, n)).astype(np.int8)
    return {"cust": cust, "day": day, "itype": itype.astype(np.int8), "outcome": outcome, "follow": follow,
            "channel": channel, "follow_day": follow_day,
            "agents": (rng.choice(3, size=n, p=[0.8, 0.15, 0.05]) + 1).astype(np.int8),  # how many agents
            "agent_u": rng.random((n, 3), dtype=np.float32),  # which ones, among those on duty that day
            "absent_follow": (follow_day < 0) & (rng.random(n) < 0.3)}  # some exports omit the null key


def _events_in_window(rng, lo, hi, rate) -> tuple[np.ndarray, np.ndarray]:
    length = np.maximum(hi - lo + 1, 0)
    count = rng.poisson(rate * length)
    cust = np.repeat(np.arange(len(lo)), count)
    day = lo[cust] + (rng.random(len(cust)) * length[cust]).astype(np.int64)
    return cust, day


def churn_logit(features: dict[str, np.ndarray]) -> np.ndarray:
    """Logit of the hidden churn probability, before noise, from features observable at the cutoff."""
    return (INTERCEPT
            + W_UNRESOLVED * np.minimum(features["unresolved_180"], 3)
            + W_REFUNDS * np.minimum(features["refunds_180"], 4)
            + W_PENDING * np.minimum(features["pending_180"], 3)
            + W_DROP * np.clip(features["activity_drop"], -1.0, 2.0)
            + W_NEW * np.exp(-features["tenure_days"] / 120.0)
            + W_CHAT * (features["main_channel"] == 2) + W_PHONE * (features["main_channel"] == 1))


def slice_latents(lat: Latents, sl: slice) -> Latents:
    return Latents(**{k: getattr(lat, k)[sl] for k in Latents.__dataclass_fields__})


def simulate(seed: int, cohorts: list[tuple[int, int, int]], signup: np.ndarray, lat: Latents,
             tl: Timeline) -> Activity:
    """Simulate each cohort (id, first index, stop index) of customers on its own random streams.

    Streams are keyed by (cohort, boundary day), and every window is simulated whole, so the events of
    a day never depend on how many days are written: a longer run only adds later events.
    """
    parts = [_simulate_cohort(seed, cid, lo, signup[lo:hi], slice_latents(lat, slice(lo, hi)), tl)
             for cid, lo, hi in cohorts]
    churn_day = np.concatenate([p[2] for p in parts])
    keep_tx = [p[0] for p in parts if len(p[0]["cust"])]
    keep_int = [p[1] for p in parts if len(p[1]["cust"])]
    truth = [p[3] for p in parts if p[3] is not None]

    def cat(dicts):
        cols = {k: np.concatenate([x[k] for x in dicts]) for k in dicts[0]}
        return Events(cols).take(np.flatnonzero(cols["day"] <= tl.end))

    truth_cols = {k: np.concatenate([t[k] for t in truth]) for k in truth[0]} if truth else {
        "cust": np.zeros(0, np.int64), "cutoff": np.zeros(0, np.int64), "probability": np.zeros(0),
        "churned": np.zeros(0, np.int8)}
    return Activity(tx=cat(keep_tx), interactions=cat(keep_int), churn_day=churn_day, truth=truth_cols)


def _simulate_cohort(seed, cohort, offset, signup, lat, tl):
    n = len(signup)
    bounds = tl.boundaries
    first = max(0, int(np.searchsorted(bounds, signup.min(), side="left")) - 1)
    never = np.int64(10**7)
    churn_day = np.full(n, never, dtype=np.int64)
    walk_var = WALK_SD**2 / (1 - WALK_KEEP**2)  # stationary variance of the activity walk
    walk = stream(seed, "walk", cohort).normal(0, np.sqrt(walk_var), n)
    recent: list[dict[str, np.ndarray]] = []  # per-step counts of the last 4 steps, newest last
    channel_counts = np.zeros((n, 3), dtype=np.int32)
    tx_parts, int_parts, truth_parts = [], [], []
    cutoffs = {tl.train_cutoff, tl.eval_cutoff}
    for j in range(first, len(bounds) - 1):
        b, b_next = int(bounds[j]), int(bounds[j + 1])
        rng = stream(seed, "activity", cohort, b)
        if recent:
            live = np.flatnonzero((signup <= b) & (churn_day > b))
            feats = observable_features(live, b, signup, recent, channel_counts)
            z = churn_logit(feats) + rng.normal(0, NOISE_SD, len(live))
            prob = 1.0 / (1.0 + np.exp(-z))
            churns = rng.random(len(live)) < prob
            gap = 1 + np.minimum(rng.exponential(CHURN_DAY_MEAN, len(live)).astype(np.int64), STEP - 1)
            churn_day[live[churns]] = b + gap[churns]
            if b in cutoffs:
                truth_parts.append({"cust": live + offset, "cutoff": np.full(len(live), b),
                                    "probability": prob, "churned": churns.astype(np.int8)})
        walk = WALK_KEEP * walk + rng.normal(0, WALK_SD, n)
        lo = np.maximum(b + 1, signup)
        hi = np.minimum(b_next, churn_day - 1)
        rate = np.maximum(lat.tx_rate * np.exp(walk - walk_var / 2), TX_MIN_PER_STEP / STEP)
        cust, day = _events_in_window(rng, lo, hi, rate)
        new = np.flatnonzero((signup > b) & (signup <= b_next))
        # Everyone buys on the day they sign up.
        cust, day = np.concatenate([new, cust]), np.concatenate([signup[new], day])
        tx = _transactions(rng, cust, day, lat)
        icust, iday = _events_in_window(rng, lo, hi, lat.int_rate)
        inter = _interactions(rng, icust, iday, lat)
        refund = (tx["ttype"] == 1) | (tx["status"] == 1)
        unresolved = (inter["itype"] == 0) & (inter["outcome"] >= 2)
        step_counts = {
            "tx": np.bincount(cust, minlength=n),
            "refunds": np.bincount(cust, weights=refund, minlength=n),
            "pending": np.bincount(cust, weights=tx["status"] == 2, minlength=n),
            "unresolved": np.bincount(icust, weights=unresolved, minlength=n),
            "last_tx": np.maximum(recent[-1]["last_tx"] if recent else np.full(n, -1, np.int64),
                                  _last_day(cust, day, n)),
        }
        recent = (recent + [step_counts])[-4:]
        np.add.at(channel_counts, (icust, inter["channel"]), 1)
        tx["cust"], tx["day"] = (tx["cust"] + offset).astype(np.int32), tx["day"].astype(np.int32)
        inter["cust"], inter["day"] = (inter["cust"] + offset).astype(np.int32), inter["day"].astype(np.int32)
        inter["follow_day"] = inter["follow_day"].astype(np.int32)
        tx_parts.append(tx)
        int_parts.append(inter)
        if b_next >= tl.end:
            break
    cat = lambda parts: {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}  # noqa: E731
    truth = cat(truth_parts) if truth_parts else None
    return cat(tx_parts), cat(int_parts), churn_day, truth


def _last_day(cust: np.ndarray, day: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    np.maximum.at(out, cust, day)
    return out


def observable_features(live, b, signup, recent, channel_counts) -> dict[str, np.ndarray]:
    """Features of live customers at boundary b, from the (up to) four previous 90-day steps."""
    tenure = b - signup[live]
    last = recent[-1]
    tx90 = last["tx"][live]
    earlier = [s["tx"][live] for s in recent[:-1]]
    full_steps = np.clip((tenure - STEP) // STEP, 0, len(earlier))
    prev_total = np.zeros(len(live))
    for k, counts in enumerate(reversed(earlier)):  # k = 0 is the step just before the last one
        prev_total += np.where(k < full_steps, counts, 0)
    prev_rate = prev_total / np.maximum(full_steps, 1)
    drop = np.where(full_steps > 0, np.log((prev_rate + 1) / (tx90 + 1)), 0.0)
    two = recent[-2:]
    ch = channel_counts[live]
    main = np.where(ch.sum(axis=1) > 0, np.argmax(ch, axis=1), -1)
    return {
        "tenure_days": tenure.astype(float),
        "tx_90": tx90.astype(float),
        "activity_drop": drop,
        "refunds_180": sum(s["refunds"][live] for s in two),
        "pending_180": sum(s["pending"][live] for s in two),
        "unresolved_180": sum(s["unresolved"][live] for s in two),
        "main_channel": main,
        "days_since_tx": (b - last["last_tx"][live]).astype(float),
    }
