"""From world rows to landing files: which file gets which defect, how rows render, and the writing.

Defect plans are keyed by file (entity and batch), never by the number of days, so a longer run plants
the same defects in the batches it shares with a shorter one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import domains as d
from .contract import (
    ADDRESS,
    AGENT_SHEET,
    CUSTOMER,
    ENTITIES,
    INTERACTION,
    INTERACTION_AGENT,
    PHONE,
    EntitySpec,
)
from .defects import (
    DEFECT_KINDS,
    EXTRA_COLUMN,
    EXTRA_COLUMN_VALUES,
    MISSING_COLUMN,
    RANDOM_ROW_KINDS,
    ROW_KINDS_BY_ENTITY,
    Injected,
    RowContext,
    conflict_copy,
    inject,
)
from .population import FIRST_NAMES, LAST_NAMES
from .util import date_strings, int_strings
from .world import F_LATE, F_UPDATE, F_X_COPY, F_X_ORIG, Frame, World, take
from .writers import Written, write_bytes, write_text_file, xlsx_bytes

RESEND_FILE_PROB = 0.2  # chance that a batch after the third re-sends an earlier file
LATER_BOM_PROB = LATER_CRLF_PROB = 0.05  # chance that a batch after the third has such a file
TEXT_ENTITIES = tuple(s.name for s in ENTITIES if s.fmt != "xlsx")


@dataclass
class FileJob:
    spec: EntitySpec
    batch: int
    frame: Frame
    columns: tuple[str, ...]
    file_defects: list[str] = field(default_factory=list)
    plan: dict[int, str] = field(default_factory=dict)  # row -> random defect kind (before pk copies)

    @property
    def n(self) -> int:
        return len(next(iter(self.frame.values()))) if self.frame else 0

    @property
    def flags(self) -> np.ndarray:
        return self.frame.get("flags", np.zeros(self.n, dtype=np.int8))

    def has(self, kind: str) -> bool:
        return kind in self.file_defects


def record(file: str, line, key: str, entity: str, kind: str, column: str = "") -> tuple:
    k = DEFECT_KINDS[kind]
    return (file, line, key, entity, kind, k.handling, k.reason, column)


class Landing:
    def __init__(self, world: World, rate: float, tables: dict[str, list[Frame]]):
        self.world, self.rate = world, rate
        self.jobs = [FileJob(spec, k, tables[spec.name][k - 1], spec.columns)
                     for k in range(1, world.days + 1) for spec in ENTITIES]
        self.by_key = {(j.spec.name, j.batch): j for j in self.jobs}
        self.resends: dict[int, list[FileJob]] = {}
        self.records: list[tuple] = []
        self.files: list[dict] = []
        self.cross_system: list[tuple] = []

    @staticmethod
    def empty_phone_batch(rate: float, days: int) -> int | None:
        """The empty-file defect moves rows to the next batch, so the world needs to know it first."""
        return 2 if rate > 0 and days >= 2 else None

    # ------------------------------------------------------------------ planning
    def plan(self) -> None:
        if self.rate > 0:
            self._plan_file_defects()
            self._plan_row_defects()
        self._plan_resends()

    def _pick_file(self, rng, batch: int, names, taken, any_defect: bool = False) -> FileJob | None:
        """A random file of the batch among `names`, one with rows if there is any."""
        jobs = [self.by_key[(n, batch)] for n in names if (n, batch) in self.by_key]
        jobs = [j for j in jobs if j not in taken and (not j.file_defects or any_defect)]
        with_rows = [j for j in jobs if j.n > 0] or jobs
        return with_rows[int(rng.integers(0, len(with_rows)))] if with_rows else None

    def _plan_file_defects(self) -> None:
        """Batch 2: an empty phone file, a BOM and CRLF line ends somewhere; batch 3: a customer file with an
        extra column and an address file without `government`; later batches now and then a BOM or CRLF."""
        w = self.world
        for k in range(2, w.days + 1):
            rng = w.rng("file_defects", k)
            wants: list[tuple[str, tuple[str, ...]]] = []
            if k == 2:
                self.by_key[(PHONE.name, 2)].file_defects.append("empty_file")
                others = tuple(n for n in TEXT_ENTITIES if n != PHONE.name)
                wants += [("bom", others), ("crlf", others)]
            elif k == 3:
                self.by_key[(CUSTOMER.name, 3)].file_defects.append("extra_column")
                self.by_key[(ADDRESS.name, 3)].file_defects.append("missing_column")
            else:
                bom, crlf = rng.random() < LATER_BOM_PROB, rng.random() < LATER_CRLF_PROB
                wants += [(kind, TEXT_ENTITIES) for kind, on in (("bom", bom), ("crlf", crlf)) if on]
            taken: list[FileJob] = []
            for kind, names in wants:
                job = self._pick_file(rng, k, names, taken)
                if job:
                    job.file_defects.append(kind)
                    taken.append(job)
        for job in self.jobs:
            if job.has("extra_column"):
                job.columns = job.columns + (EXTRA_COLUMN,)
            if job.has("missing_column"):
                job.columns = tuple(c for c in job.columns if c != MISSING_COLUMN[job.spec.entity])

    def _row_defect_jobs(self) -> list[FileJob]:
        return [j for j in self.jobs if j.spec.entity in ROW_KINDS_BY_ENTITY
                and not {"extra_column", "missing_column", "empty_file"} & set(j.file_defects)]

    def _plan_row_defects(self) -> None:
        for job in self._row_defect_jobs():
            rng = self.world.rng("plan", job.spec.name, job.batch)
            eligible = np.flatnonzero(job.flags == 0)
            m = int(rng.binomial(len(eligible), self.rate))
            if not m:
                continue
            rows = np.sort(rng.choice(eligible, m, replace=False))
            kinds = ROW_KINDS_BY_ENTITY[job.spec.entity]
            picks = rng.integers(0, len(kinds), m)
            job.plan = {int(r): kinds[p] for r, p in zip(rows.tolist(), picks.tolist(), strict=True)}
        # Every kind at least once, whatever the scale: one more of each in the initial load.
        rng = self.world.rng("plan", "every_kind")
        for kind in RANDOM_ROW_KINDS:
            jobs = [j for j in self._row_defect_jobs()
                    if j.batch == 1 and kind in ROW_KINDS_BY_ENTITY[j.spec.entity]]
            job = jobs[int(rng.integers(0, len(jobs)))]
            eligible = np.flatnonzero(job.flags == 0)
            if len(eligible) > len(job.plan):
                row = int(eligible[int(rng.integers(0, len(eligible)))])
                while row in job.plan:
                    row = int(eligible[int(rng.integers(0, len(eligible)))])
                job.plan[row] = kind
        for job in self.jobs:
            job.plan = dict(sorted(job.plan.items()))

    def _plan_resends(self) -> None:
        """Batch 3 carries a batch-2 file again, byte for byte, under a `_resend` name; later batches do so
        now and then with a file from the three batches before."""
        for k in range(3, self.world.days + 1):
            rng = self.world.rng("resend", k)
            if k > 3 and rng.random() >= RESEND_FILE_PROB:
                continue
            src = 2 if k == 3 else int(rng.integers(max(2, k - 3), k))
            job = self._pick_file(rng, src, TEXT_ENTITIES, [], any_defect=True)
            if not job or not job.n:  # nothing in that batch: the smallest non-empty file of the initial load
                job = min((j for j in self.jobs if j.batch == 1 and j.spec.fmt != "xlsx" and j.n),
                          key=lambda j: j.n)
            self.resends.setdefault(k, []).append(job)

    # ------------------------------------------------------------------ writing
    def write(self, landing: Path) -> None:
        x_orig: dict[int, tuple[str, int]] = {}
        x_copy: list[tuple[int, int, str, int]] = []
        w = self.world
        for job in self.jobs:
            rel = job.spec.relpath(w.batch_date(job.batch))
            if job.spec.fmt == "xlsx":
                out = write_bytes(landing / rel, self._agent_xlsx(job))
                out.data_lines = job.n
            else:
                out, frame = self._write_text(job, landing / rel, rel)
                self._behaviour_records(job, frame, rel, x_orig, x_copy)
            self.files.append(self._file_row(rel, job, out))
            for kind in job.file_defects:
                self.records.append(record(rel, "", "", job.spec.entity, kind))
            if job.spec is ENTITIES[-1]:  # after the batch's own files
                for src in self.resends.get(job.batch, []):
                    self._resend(landing, src, job.batch)
        self.cross_system = sorted((cid, oid, crel, cline, *x_orig[oid]) for cid, oid, crel, cline in x_copy)

    def _file_row(self, rel: str, job: FileJob, out: Written) -> dict:
        return {"file": rel, "system": job.spec.system, "entity": job.spec.entity,
                "batch": self.world.batch_date(job.batch).isoformat(), "data_lines": out.data_lines,
                "bytes": out.bytes, "sha256": out.sha256}

    def _resend(self, landing: Path, src: FileJob, batch: int) -> None:
        src_rel = src.spec.relpath(self.world.batch_date(src.batch))
        rel = f"{src.spec.folder(self.world.batch_date(batch))}/{Path(src_rel).stem}_resend.{src.spec.ext}"
        data = (landing / src_rel).read_bytes()
        write_bytes(landing / rel, data)
        original = next(f for f in self.files if f["file"] == src_rel)
        self.files.append(dict(original, file=rel, batch=self.world.batch_date(batch).isoformat()))
        self.records.append(record(rel, "", "", src.spec.entity, "resent_file"))

    def _write_text(self, job: FileJob, path: Path, rel: str) -> tuple[Written, Frame]:
        frame, plan = job.frame, job.plan
        # pk_conflict: a second row with the same key goes right after the chosen one.
        pk = np.array([r for r, k in plan.items() if k == "pk_conflict"], dtype=np.int64)
        kinds_at: dict[int, str] = {}
        if len(pk):
            frame = take(frame, np.insert(np.arange(job.n), pk + 1, pk))
            for r, k in plan.items():
                at = r + int(np.searchsorted(pk, r, side="left"))
                kinds_at[at] = k
                if k == "pk_conflict":
                    kinds_at[at + 1] = "pk_copy"
        else:
            kinds_at = dict(plan)
        ctx = RowContext(job.spec, job.columns, self.world.batch_day(job.batch),
                         self.world.rng("inject", rel))

        def edit_for(kind: str) -> Callable[[list], Injected]:
            if kind == "pk_copy":
                return lambda fields: conflict_copy(fields, ctx)
            return lambda fields: inject(kind, fields, ctx)

        edits = {row: edit_for(kind) for row, kind in kinds_at.items()}
        n = len(next(iter(frame.values()))) if frame else 0
        out = write_text_file(path, job.columns, n, self._renderer(job, frame), edits,
                              jsonl=job.spec.fmt == "jsonl", bom=job.has("bom"), crlf=job.has("crlf"),
                              empty=job.has("empty_file"))
        first_line = 1 if job.spec.fmt == "jsonl" else 2
        for row, res in out.injected:
            kind = "pk_conflict" if kinds_at[row] == "pk_copy" else kinds_at[row]
            self.records.append(record(rel, row + first_line, _key(ctx, res.fields), job.spec.entity, kind,
                                       res.column))
        return out, frame

    def _behaviour_records(self, job, frame, rel, x_orig, x_copy) -> None:
        if "flags" not in frame:
            return
        flags = frame["flags"]
        first_line = 1 if job.spec.fmt == "jsonl" else 2
        for bit, kind in ((F_LATE, "late_customer"), (F_UPDATE, "status_update"),
                          (F_X_COPY, "cross_system_resend")):
            for r in np.flatnonzero(flags & bit).tolist():
                key = str(int(frame["id"][r]))
                self.records.append(record(rel, r + first_line, key, job.spec.entity, kind))
        for r in np.flatnonzero(flags & F_X_ORIG).tolist():
            x_orig[int(frame["id"][r])] = (rel, r + first_line)
        for r in np.flatnonzero(flags & F_X_COPY).tolist():
            x_copy.append((int(frame["id"][r]), int(frame["xid"][r]), rel, r + first_line))

    # ------------------------------------------------------------------ rendering
    def _renderer(self, job: FileJob, frame: Frame) -> Callable[[int, int], list[np.ndarray]]:
        """render(a, b) -> the field texts of rows [a, b), one object array per column as written."""
        spec, c = job.spec, self.world.customers
        first_names, last_names = np.array(FIRST_NAMES, dtype=object), np.array(LAST_NAMES, dtype=object)

        def ids(values):
            return int_strings(values)

        if spec is CUSTOMER:
            genders = np.array(d.GENDERS, object)
            tiers = np.array(EXTRA_COLUMN_VALUES, object)

            def render(a, b):
                i = frame["cust"][a:b]
                cols = [ids(i + 1), date_strings(c.dob[i]), genders[c.gender[i]], c.email[i], c.username[i],
                        c.password[i], first_names[c.first[i]], last_names[c.last[i]]]
                if job.has("extra_column"):
                    cols.append(tiers[(i * 7 + 3) % len(tiers)])
                return cols
        elif spec is ADDRESS:
            locs = np.array(d.LOCATIONS, dtype=object)

            def render(a, b):
                loc = frame["loc"][a:b]
                cols = [locs[loc, 0], locs[loc, 1], locs[loc, 2], ids(frame["cust"][a:b] + 1)]
                return [cols[0], cols[2], cols[3]] if job.has("missing_column") else cols
        elif spec is PHONE:
            def render(a, b):
                return [ids(frame["phone"][a:b]), ids(frame["cust"][a:b] + 1)]
        elif spec.entity == "The_transaction":
            fmt = "mdy" if spec.date_format == "M/d/yyyy" else "iso"
            cents_part = np.array([f"{i:02d}" for i in range(100)], dtype=object)
            tables = {col: np.array(values, object) for col, values in (
                ("currency", d.CURRENCIES), ("ttype", d.TRANSACTION_TYPES), ("method", d.PAYMENT_METHODS),
                ("status", d.PAYMENT_STATUSES))}

            def render(a, b):
                cents = frame["cents"][a:b]
                return [ids(frame["id"][a:b]), ids(cents // 100) + "." + cents_part[cents % 100],
                        tables["currency"][frame["currency"][a:b]], tables["ttype"][frame["ttype"][a:b]],
                        tables["method"][frame["method"][a:b]], tables["status"][frame["status"][a:b]],
                        ids(frame["cust"][a:b] + 1), date_strings(frame["day"][a:b], fmt)]
        elif spec is INTERACTION:
            def quoted(values):
                return np.array([json.dumps(v) for v in values], dtype=object)

            types, outcomes = quoted(d.INTERACTION_TYPES), quoted(d.INTERACTION_OUTCOMES)
            yes_no, channels = quoted(d.FOLLOW_UP), quoted(d.CHANNELS)

            def render(a, b):
                fday = frame["follow_day"][a:b]
                follow = np.where(fday >= 0, '"' + date_strings(np.maximum(fday, 0)) + '"', "null")
                follow = follow.astype(object)
                follow[frame["absent_follow"][a:b]] = None
                return [ids(frame["id"][a:b]), types[frame["itype"][a:b]], outcomes[frame["outcome"][a:b]],
                        yes_no[np.where(frame["follow"][a:b], 0, 1)], channels[frame["channel"][a:b]], follow,
                        ids(frame["cust"][a:b] + 1), '"' + date_strings(frame["day"][a:b]) + '"']
        elif spec is INTERACTION_AGENT:
            def render(a, b):
                return [ids(frame["iid"][a:b]), ids(frame["agent"][a:b])]
        else:
            raise ValueError(f"no text renderer for {spec.name}")
        return render

    def _agent_xlsx(self, job: FileJob) -> bytes:
        f = job.frame
        cols = (f["agent"].tolist(), f["first"].tolist(), f["last"].tolist())
        rows = [[a + 1, FIRST_NAMES[fi], LAST_NAMES[la]] for a, fi, la in zip(*cols, strict=True)]
        return xlsx_bytes(AGENT_SHEET, job.columns, rows)


def _key(ctx: RowContext, fields: list) -> str:
    """The row's natural key as written ('|' between the parts of a composite key)."""
    vals = []
    for col in ctx.spec.key:
        if col not in ctx.columns or ctx.columns.index(col) >= len(fields):
            vals.append("")
        else:
            v = ctx.get(fields, col)
            vals.append("" if v is None else str(v))
    return "|".join(vals)


def remove_stale(landing: Path, keep: set[str]) -> None:
    """Delete files of the simulated systems that this run did not write, and emptied batch folders."""
    for spec in ENTITIES:
        root = landing / spec.system / spec.entity
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.relative_to(landing).as_posix() not in keep:
                path.unlink()
        for folder in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                shutil.rmtree(folder)
