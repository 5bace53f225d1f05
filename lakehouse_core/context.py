"""What a job receives and returns: a session, the environment, and where to find its tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from lakehouse_core.catalog import qualified
from lakehouse_core.config import Config


@dataclass
class JobResult:
    rows_read: int | None = None
    rows_written: int | None = None
    rows_quarantined: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobContext:
    spark: SparkSession
    cfg: Config
    run_id: str
    job: str = ""
    full_refresh: bool = False
    log: Callable[[str], None] = print
    # Earlier runs on this root that did not end `succeeded` (run id, start time), as ops.run_log had them when
    # the runner started this run; None when the job is called outside the runner (nothing known: assume any).
    # Only such a run can have left a job's writes half done, so a job may skip its recovery check without one.
    unclean_runs: tuple[tuple[str, Any], ...] | None = None

    def table(self, table_id: str) -> str:
        """`layer.name` from the model → the environment's `database.table`."""
        return qualified(self.cfg, table_id)
