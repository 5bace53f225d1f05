"""Retry a Delta operation that lost an optimistic-concurrency race to another job of the same run.

Jobs running side by side (conf `runner.parallel_jobs`) share the `ops` tables. Blind appends never conflict,
but a MERGE or DELETE reads the table first, and Delta rejects its commit when another job appended files it
could have read (on an unpartitioned table: any file). Delta's own advice is to run the operation again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

CONFLICTS = frozenset({
    "DeltaConcurrentModificationException", "ConcurrentWriteException", "MetadataChangedException",
    "ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
})


def is_conflict(exc: BaseException) -> bool:
    return type(exc).__name__ in CONFLICTS or "[DELTA_CONCURRENT_" in str(exc)[:200]


def retry_on_conflict(operation: Callable[[], T], attempts: int = 6, log: Callable[[str], None] | None = None,
                      what: str = "commit") -> T:
    """Run `operation`; on a Delta concurrency conflict run it again (up to `attempts` times in all)."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:
            if attempt == attempts or not is_conflict(exc):
                raise
            if log:
                log(f"{what} lost a race with a concurrent commit ({type(exc).__name__}); attempt {attempt + 1}")
            time.sleep(random.uniform(0.2, 0.6) * attempt)
    raise AssertionError("unreachable")
