"""ops.conservation: the silver jobs of a run create the view from threads of one driver, all at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from jobs.silver.engine import ensure_conservation_view
from lakehouse_core.context import JobContext


def test_jobs_creating_the_view_at_once_all_succeed_and_it_sums_the_ledger(lake):
    lake.ensure("ops.batch_outcome")
    threads = 8
    start = threading.Barrier(threads)

    def create(i: int) -> None:
        ctx = JobContext(spark=lake.spark, cfg=lake.cfg, run_id="run1", job=f"silver_{i}", log=lambda m: None)
        start.wait()
        ensure_conservation_view(ctx, replace=i % 2 == 0)  # a --full-refresh job replaces it, the others create

    for _ in range(3):
        lake.spark.sql(f"DROP VIEW IF EXISTS {lake.name('ops.conservation')}")
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(create, range(threads)))  # re-raises the first failure

    lake.spark.sql(f"""INSERT INTO {lake.name('ops.batch_outcome')} (run_id, `table`, source_table, batch,
        bronze_rows, accepted, quarantined, duplicates, held) VALUES
        ('run1', 'silver.address', 'bronze.crm_the_address', DATE'2025-01-01', 5, 3, 1, 1, 0),
        ('run2', 'silver.address', 'bronze.crm_the_address', DATE'2025-01-01', 2, 1, 0, 0, 0)""")
    assert lake.rows("ops.conservation", "entity", "source", "batch", "bronze_rows", "accepted", "quarantined",
                     "duplicates", "held", "balanced") == [
        ("address", "crm_the_address", "2025-01-01", 7, 4, 1, 1, 0, False)]
