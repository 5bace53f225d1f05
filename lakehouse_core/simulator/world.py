"""The simulated world laid out as rows per entity and batch, before anything is written.

Every random draw is keyed by what it is about (a cohort of customers, a 90-day step, a batch), never by
how many days are requested, so a run with more days reproduces the earlier batches exactly and only adds
new ones. Rows that carry behaviour (late customers, status updates, cross-system re-sends) are marked
with bit flags; they never receive a random defect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from . import activity as act
from .contract import (
    ADDRESS,
    AGENT,
    CUSTOMER,
    INTERACTION,
    INTERACTION_AGENT,
    PAYMENTS,
    PAYMENTS_V2,
    PHONE,
    V2_ID_OFFSET,
)
from .population import (
    COUNTRY_SIZE,
    LAST_NAMES,
    Agents,
    Customers,
    address_location,
    draw_signups,
    make_agents,
    make_customers,
    make_phone_numbers,
)
from .util import day_number, stream

HISTORY_START = date(2020, 1, 1)
CUSTOMERS_AT_SCALE_1 = 11_000
AGENTS_AT_SCALE_1 = 100
LABEL_WINDOW = 90
EVAL_CUTOFF_BEFORE_START = 120  # eval_cutoff + 90 days still lies 30 days inside the initial load
NEW_CUSTOMERS_PER_DAY = 0.002  # share of the initial base
MOVES_PER_DAY = 0.001
NEW_PHONES_PER_DAY = 0.0005
LATE_CUSTOMER_SHARE = 0.05
CROSS_SYSTEM_SHARE = 0.03  # payments rows that payments_v2 re-sends under a new id
PENDING_RESOLVED_WINDOW = 14  # Pending rows this recent before start can still be settled later
AGENT_HIRE_PROB, AGENT_RENAME_PROB = 0.15, 0.1

# Row flags (bit set) marking behaviour rows.
F_LATE, F_UPDATE_ORIG, F_UPDATE, F_X_ORIG, F_X_COPY = 1, 2, 4, 8, 16

Frame = dict[str, np.ndarray]


def take(frame: Frame, idx: np.ndarray) -> Frame:
    return {k: v[idx] for k, v in frame.items()}


def split_batches(frame: Frame, batch: np.ndarray, days: int, order: list[str]) -> list[Frame]:
    """Rows per batch 1..days (rows of later batches are dropped), sorted by `order` (first = primary)."""
    idx = np.lexsort([frame[c] for c in reversed(order)] + [batch])
    frame, batch = take(frame, idx), batch[idx]
    cuts = np.searchsorted(batch, np.arange(1, days + 2))
    return [take(frame, np.arange(cuts[k], cuts[k + 1])) for k in range(days)]


@dataclass
class World:
    seed: int
    scale: float
    days: int
    start: date
    empty_phone_batch: int | None = None  # that day's phone file is empty; its rows come the day after

    def __post_init__(self) -> None:
        self.start_day = day_number(self.start)
        self.end_day = self.start_day + self.days - 1
        eval_cutoff = self.start_day - EVAL_CUTOFF_BEFORE_START
        self.timeline = act.Timeline(
            history_start=day_number(HISTORY_START), start=self.start_day, end=self.end_day,
            train_cutoff=eval_cutoff - LABEL_WINDOW, eval_cutoff=eval_cutoff,
        )
        self.n0 = max(10, int(round(CUSTOMERS_AT_SCALE_1 * self.scale)))
        self.n_agents0 = max(5, int(round(AGENTS_AT_SCALE_1 * self.scale)))

    def rng(self, *names) -> np.random.Generator:
        return stream(self.seed, *names)

    def batch_day(self, k: int) -> int:
        return self.start_day + k - 1

    def batch_date(self, k: int) -> date:
        return self.start + timedelta(days=k - 1)

    # ------------------------------------------------------------------ build
    def build(self) -> dict[str, list[Frame]]:
        """Rows of every landing file: entity name -> one frame per batch."""
        self._people()
        self._agents()
        self.activity = act.simulate(self.seed, self.cohorts, self.customers.signup, self.latents,
                                     self.timeline)
        payments, payments_v2 = self._transactions()
        interactions, assignments = self._interactions()
        return {
            CUSTOMER.name: split_batches({"cust": np.arange(self.customers.n)}, self.row_batch, self.days,
                                         ["cust"]),
            ADDRESS.name: self._addresses(), PHONE.name: self._phones(),
            PAYMENTS.name: payments, PAYMENTS_V2.name: payments_v2,
            INTERACTION.name: interactions, INTERACTION_AGENT.name: assignments,
            AGENT.name: self._agent_rows(),
        }

    def _people(self) -> None:
        """Cohort 1 signed up over the history; cohort k > 1 signs up on batch day k."""
        history = draw_signups(self.rng("signups"), self.n0, self.timeline.history_start, self.start_day - 1)
        signups = [history]
        for k in range(2, self.days + 1):
            count = max(1, int(self.rng("new_customers", k).poisson(NEW_CUSTOMERS_PER_DAY * self.n0)))
            signups.append(np.full(count, self.batch_day(k), np.int64))
        parts, latents, self.cohorts, first = [], [], [], 0
        for k, signup in enumerate(signups, 1):
            c = make_customers(self.rng("customers", k), signup, first_id=first + 1)
            parts.append(c)
            latents.append(act.draw_latents(self.rng("latents", k), len(signup), c.country))
            self.cohorts.append((k, first, first + len(signup)))
            first += len(signup)
        self.customers = Customers.concat(parts)
        self.latents = act.Latents(**{f: np.concatenate([getattr(x, f) for x in latents])
                                      for f in act.Latents.__dataclass_fields__})
        self.signup_batch = np.concatenate([np.full(len(s), k) for k, s in enumerate(signups, 1)])
        # A few new customers' rows (with their addresses and phones) come one batch after their first
        # transaction. The first new customer of batch 2 always does, so the behaviour is there at any scale.
        late = [np.zeros(len(signups[0]), bool)]
        for k in range(2, self.days + 1):
            flag = self.rng("late", k).random(len(signups[k - 1])) < LATE_CUSTOMER_SHARE
            flag[0] |= k == 2
            late.append(flag)
        self.late = np.concatenate(late)
        self.row_batch = self.signup_batch + self.late

    def _agents(self) -> None:
        """Batch 1 has the roster; batch 2 always hires one agent and batch 3 renames one, later batches
        now and then do either."""
        hires, self.renames = [self.n_agents0], {}
        for k in range(2, self.days + 1):
            rng = self.rng("agents", k)
            hire, rename = rng.random() < AGENT_HIRE_PROB, rng.random() < AGENT_RENAME_PROB
            hires.append(1 if k == 2 else (int(rng.integers(1, 3)) if hire else 0))
            if k == 3 or (k > 3 and rename):
                agent, shift = int(rng.integers(0, self.n_agents0)), int(rng.integers(1, len(LAST_NAMES)))
                self.renames[k] = (agent, shift)
        self.agent_hire_batch = np.concatenate([np.full(h, k, np.int64) for k, h in enumerate(hires, 1)])
        rosters = [make_agents(self.rng("agent_names", k), h) for k, h in enumerate(hires, 1)]
        self.agents = Agents(first=np.concatenate([a.first for a in rosters]),
                             last=np.concatenate([a.last for a in rosters]))

    # ------------------------------------------------------------------ crm
    def _addresses(self) -> list[Frame]:
        c = self.customers
        size = COUNTRY_SIZE[c.country]
        n_addr = np.ones(c.n, dtype=np.int64)
        hist = self.row_batch == 1
        extra = self.rng("addresses", 1).choice(3, size=int(hist.sum()), p=[0.82, 0.15, 0.03])
        n_addr[hist] = np.minimum(1 + extra, size[hist])
        cust = np.repeat(np.arange(c.n), n_addr)
        k = np.arange(len(cust)) - np.repeat(np.cumsum(n_addr) - n_addr, n_addr)
        parts = [(cust, k, self.row_batch[cust])]
        for b in range(2, self.days + 1):  # moves: a new address row for a live, known customer
            rng = self.rng("moves", b)
            day = self.batch_day(b)
            ok = np.flatnonzero((self.row_batch < b) & (c.signup < day) & (self.activity.churn_day > day)
                                & (n_addr < size))
            m = min(len(ok), int(rng.poisson(max(MOVES_PER_DAY * self.n0, 0.3))))
            movers = np.sort(rng.choice(ok, m, replace=False)) if m else np.zeros(0, np.int64)
            parts.append((movers, n_addr[movers].copy(), np.full(m, b)))
            n_addr[movers] += 1
        cust, k, batch = (np.concatenate(x) for x in zip(*parts, strict=True))
        frame = {"cust": cust, "k": k, "loc": address_location(c, cust, k)}
        return split_batches(frame, batch, self.days, ["cust", "k"])

    def _phones(self) -> list[Frame]:
        c = self.customers
        rng = self.rng("phones", 1)
        hist = np.flatnonzero(self.row_batch == 1)
        per = rng.choice(3, size=len(hist), p=[0.75, 0.2, 0.05]) + 1
        cust = [np.repeat(hist, per)]
        batch = [np.ones(int(per.sum()), np.int64)]
        numbers = [make_phone_numbers(rng, int(per.sum()))]
        for b in range(2, self.days + 1):
            rng = self.rng("phones", b)
            new = np.flatnonzero(self.row_batch == b)
            per = (rng.random(len(new)) < 0.15).astype(np.int64) + 1
            day = self.batch_day(b)
            ok = np.flatnonzero((self.row_batch < b) & (c.signup < day) & (self.activity.churn_day > day))
            m = min(len(ok), int(rng.poisson(max(NEW_PHONES_PER_DAY * self.n0, 0.2))))
            extra = np.sort(rng.choice(ok, m, replace=False)) if m else np.zeros(0, np.int64)
            cust_b = np.concatenate([np.repeat(new, per), extra])
            cust.append(cust_b)
            batch.append(np.full(len(cust_b), b))
            numbers.append(make_phone_numbers(rng, len(cust_b), np.concatenate(numbers)))
        cust, batch, phone = np.concatenate(cust), np.concatenate(batch), np.concatenate(numbers)
        if self.empty_phone_batch:
            batch = np.where(batch == self.empty_phone_batch, self.empty_phone_batch + 1, batch)
        return split_batches({"cust": cust, "phone": phone}, batch, self.days, ["cust", "phone"])

    def _sorted_events(self, name: str) -> Frame:
        """Events by (day, customer), without those of the initial load's own day (the extract stops the
        day before). The raw events are let go."""
        ev = getattr(self.activity, name)
        setattr(self.activity, name, None)
        keep = np.flatnonzero(ev["day"] != self.timeline.start)
        idx = keep[np.lexsort((ev["cust"][keep], ev["day"][keep]))]
        del keep
        cols = {}
        for k in list(ev.cols):
            cols[k] = ev.cols.pop(k)[idx]
        return cols

    # ------------------------------------------------------------------ payments
    def _transactions(self) -> tuple[list[Frame], list[Frame]]:
        tl = self.timeline
        t = self._sorted_events("tx")
        n = len(t["day"])
        batch = np.where(t["day"] < tl.start, 1, t["day"] - tl.start + 1)
        flags = np.zeros(n, dtype=np.int8)
        flags[self.late[t["cust"]] & (batch == self.signup_batch[t["cust"]])] |= F_LATE
        # Recent Pending payments settle a few days later: before the initial extraction they simply land
        # settled; after it, the row is re-sent with the same id and its new status.
        status = t["status"].copy()
        settle = t["day"] + t["settle_lag"]
        recent = (status == 2) & (t["day"] >= tl.start - PENDING_RESOLVED_WINDOW)
        early = recent & (settle <= tl.start)
        status[early] = t["settled_status"][early]
        later = recent & (settle > tl.start)
        # One more, always: the last settled payments row of the initial load was Pending and settles on
        # day 2, so the behaviour is there at any scale.
        cand = np.flatnonzero((batch == 1) & (status == 0) & (flags == 0) & (t["system"] == 0) & ~later)
        if len(cand):
            i = cand[-1]
            status[i], later[i], settle[i], t["settled_status"][i] = 2, True, tl.start + 1, 0
        t["status"] = status
        flags[later] |= F_UPDATE_ORIG
        t["update_batch"] = settle - tl.start + 1
        # payments_v2 re-sends a few settled payments rows under its own ids: history rows within the
        # initial load, daily rows in the same or the next batch.
        copy = (t["system"] == 0) & (status != 2) & (flags == 0) & (t["resend_u"] < CROSS_SYSTEM_SHARE)
        copy_batch = batch + np.where(batch > 1, t["resend_lag"], 0)
        flags[copy] |= F_X_ORIG
        t["flags"] = flags
        sys0 = np.flatnonzero(t["system"] == 0)
        t["id"] = np.zeros(n, dtype=np.int64)
        t["id"][sys0] = np.arange(1, len(sys0) + 1)
        t["xid"] = np.where(copy, t["id"], 0)
        system = t["system"]
        t = {k: t[k] for k in ("id", "cust", "day", "cents", "currency", "ttype", "method", "status", "flags",
                               "xid", "settled_status", "update_batch")}

        own, cp = np.flatnonzero(system == 1), np.flatnonzero(copy)
        v2 = {k: np.concatenate([v[own], v[cp]]) for k, v in t.items()}
        v2_batch = np.concatenate([batch[own], copy_batch[cp]])
        v2["flags"] = np.concatenate([flags[own], np.full(len(cp), F_X_COPY, np.int8)])
        is_copy = np.concatenate([np.zeros(len(own), np.int8), np.ones(len(cp), np.int8)])
        order = np.lexsort((is_copy, v2["cust"], v2["day"], v2_batch))
        v2, v2_batch = take(v2, order), v2_batch[order]
        v2["id"] = V2_ID_OFFSET + np.arange(1, len(order) + 1)
        out = []
        for rows, rows_batch in ((take(t, sys0), batch[sys0]), (v2, v2_batch)):
            updates = take(rows, np.flatnonzero(rows["flags"] & F_UPDATE_ORIG))
            updates["status"] = updates["settled_status"]
            updates["flags"] = np.full(len(updates["id"]), F_UPDATE, np.int8)
            merged = {k: np.concatenate([rows[k], updates[k]]) for k in rows}
            merged_batch = np.concatenate([rows_batch, updates["update_batch"]])
            out.append(split_batches(merged, merged_batch, self.days, ["id", "flags"]))
        return out[0], out[1]

    # ------------------------------------------------------------------ contact center
    def _interactions(self) -> tuple[list[Frame], list[Frame]]:
        tl = self.timeline
        t = self._sorted_events("interactions")
        n = len(t["day"])
        batch = np.where(t["day"] < tl.start, 1, t["day"] - tl.start + 1)
        t["id"] = np.arange(1, n + 1, dtype=np.int64)
        flags = np.zeros(n, dtype=np.int8)
        flags[self.late[t["cust"]] & (batch == self.signup_batch[t["cust"]])] |= F_LATE
        t["flags"] = flags
        # Agents on duty: those hired up to the interaction's batch (agent ids follow hiring order).
        on_duty = np.searchsorted(self.agent_hire_batch, batch, side="right")
        u = t["agent_u"]
        a1 = (u[:, 0] * on_duty).astype(np.int64)
        d1 = 1 + (u[:, 1] * (on_duty - 2)).astype(np.int64)
        d2 = 1 + (u[:, 2] * (on_duty - 1 - d1)).astype(np.int64)
        agents = np.column_stack([a1, (a1 + d1) % on_duty, (a1 + d1 + d2) % on_duty])  # three distinct
        count = t["agents"]
        rep = np.repeat(np.arange(n), count)
        slot = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
        pairs = {"iid": t["id"][rep], "agent": agents[rep, slot] + 1, "slot": slot}
        del t["agent_u"]
        return (split_batches(t, batch, self.days, ["id"]),
                split_batches(pairs, batch[rep], self.days, ["iid", "slot"]))

    # ------------------------------------------------------------------ hr
    def _agent_rows(self) -> list[Frame]:
        first, last = self.agents.first, self.agents.last.copy()
        out = []
        for k in range(1, self.days + 1):
            rows = set(np.flatnonzero(self.agent_hire_batch == k).tolist())
            if k in self.renames:
                agent, shift = self.renames[k]
                last[agent] = (last[agent] + shift) % len(LAST_NAMES)  # a new surname, never the same one
                rows.add(agent)
            idx = np.array(sorted(rows), dtype=np.int64)
            out.append({"agent": idx, "first": first[idx], "last": last[idx]})
        return out
