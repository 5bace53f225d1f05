"""When an ML job has nothing to do: its inputs, its model and its settings are as they were at its last run.

The ML jobs keep gold's watermark (`ops.gold_watermark`, `jobs.gold.common.Inputs`): the Delta version of each
input table they processed, and, as pseudo-inputs, what else decides what they write: `model:<name>`, the
registered version that scored or assigned, and `settings`, a checksum of the job's settings and arguments.
When none of them moved, a run would write what the output table already holds, and the job skips it; so does
gold.customer_360 after it, whose inputs then did not move either.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

from jobs.gold.common import Inputs
from lakehouse_core.context import JobContext


def checksum(value: Any) -> int:
    """A stable whole number for JSON-like settings (the same in every process, unlike hash())."""
    return zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode())


def watched(ctx: JobContext, table_ids: Sequence[str], state: dict[str, int]) -> Inputs:
    """The job's inputs with `state` (pseudo-input -> whole number) beside the tables' versions.

    `unchanged()` is True when no table's data, no model version and no setting moved since the job's last
    run (and it is neither the first run nor --full-refresh); `commit()` after the writes records them.
    """
    return Inputs.load(ctx, table_ids, state)
