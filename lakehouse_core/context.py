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

    def table(self, table_id: str) -> str:
        """`layer.name` from the model → the environment's `database.table`."""
        return qualified(self.cfg, table_id)
