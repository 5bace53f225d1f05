"""Silver tests: write a few bronze rows straight into the test's bronze tables, run a silver job, read back."""

from __future__ import annotations

import datetime as dt

import pytest

import lakedb
from lakedb.sources import source_of_bronze
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.context import DeferredAppends, JobContext

OPS = ("ops.quarantine", "ops.dq_result", "ops.held_record", "ops.silver_watermark", "ops.batch_outcome",
       "ops.ingested_file")


class Lake:
    """One test's lake database, with just the tables its jobs touch."""

    def __init__(self, spark, cfg) -> None:
        self.spark, self.cfg = spark, cfg
        self._made: set[str] = set()
        self._runs = 0
        self._deliveries = 0

    def ensure(self, *table_ids: str) -> None:
        missing = [t for t in dict.fromkeys((*table_ids, *OPS)) if t not in self._made]  # each once
        if missing:
            ensure_tables(self.spark, self.cfg, [lakedb.table(t) for t in missing])
            self._made.update(missing)

    def bronze(self, table_id: str, rows: list[dict], batch: str = "2025-01-01", file: str | None = None,
               size_bytes: int | None = None) -> None:
        """Append rows (source columns as text) to a bronze table as one delivery of `batch`; with `size_bytes`,
        also the ledger's row for the file (ops.ingested_file, as bronze records it: same ingestion time)."""
        self.ensure(table_id)
        t = lakedb.table(table_id)
        file = file or f"file:/landing/{t.name}/batch={batch}/{t.name}_{batch.replace('-', '')}.csv"
        self._deliveries += 1  # each delivery is a later bronze commit, as ingestion would make it
        at = dt.datetime(2025, 6, 1, 0, self._deliveries)
        meta = {"_source_file": file, "_batch": dt.date.fromisoformat(batch), "_ingested_at": at, "_run_id": "bronze"}
        data = [tuple({**meta, **r}.get(c) for c in t.column_names) for r in rows]
        self.spark.createDataFrame(data, t.spark_schema()).write.format("delta").mode("append").saveAsTable(
            self.name(table_id))
        if size_bytes is not None:
            ledger = lakedb.table("ops.ingested_file")
            row = {"source": source_of_bronze(table_id).name, "file": file, "batch": meta["_batch"],
                   "size_bytes": size_bytes, "rows_read": len(rows), "rows_written": len(rows), "rows_quarantined": 0,
                   "flags": [], "run_id": "bronze", "ingested_at": at}
            self.spark.createDataFrame([tuple(row.get(c) for c in ledger.column_names)], ledger.spark_schema()) \
                .write.format("delta").mode("append").saveAsTable(self.name("ops.ingested_file"))

    def silver_customers(self, ids, batch: str) -> None:
        """Customers straight into silver.customer, for jobs that only need them known."""
        self.ensure("silver.customer")
        t = lakedb.table("silver.customer")
        day = dt.date.fromisoformat(batch)
        rows = [{"customer_id": i, "row_hash": str(i), "valid_from": day, "is_current": True, "_batch": day,
                 "_source_file": "customer.csv", "_run_id": "seed"} for i in ids]
        self.spark.createDataFrame([tuple(r.get(c) for c in t.column_names) for r in rows], t.spark_schema()) \
            .write.format("delta").mode("append").saveAsTable(self.name("silver.customer"))

    def run(self, module, full_refresh: bool = False, deferred: DeferredAppends | None = None):
        """Run a silver job module, as the runner would, with the tables it reads and writes in place.
        `deferred`: the buffer its ops rows go to, as under the runner (the caller flushes it); else written at once."""
        entity = module.ENTITY
        self.ensure(entity.table, "silver.customer", *(s.bronze for s in entity.sources))
        self._runs += 1
        ctx = JobContext(spark=self.spark, cfg=self.cfg, run_id=f"run{self._runs}", job=entity.job,
                         full_refresh=full_refresh, log=lambda m: None, layer="silver", deferred=deferred)
        return module.run(ctx)

    def name(self, table_id: str) -> str:
        return f"{self.cfg.database(table_id.split('.')[0])}.{table_id.split('.')[1]}"

    def table(self, table_id: str):
        return self.spark.table(self.name(table_id))

    def rows(self, table_id: str, *cols: str, where: str = "true") -> list[tuple]:
        """Selected columns of a table, as sorted tuples (dates as ISO text), for whole-table comparisons."""
        df = self.table(table_id).where(where).select(*cols)
        out = [tuple(v.isoformat() if isinstance(v, dt.date) else v for v in r) for r in df.collect()]
        return sorted(out, key=lambda r: tuple((v is None, str(v)) for v in r))


@pytest.fixture
def lake(spark, lake_cfg) -> Lake:
    return Lake(spark, lake_cfg)
