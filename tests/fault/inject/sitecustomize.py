"""Fault injection for the fault suite, loaded only when this folder is put on PYTHONPATH.

LAKEHOUSE_TEST_RAISE_IN=<silver job>: that job raises right after writing its silver table, its quarantine
and its held rows, and before its outcome, rule results and watermark: a failure in the middle of the job.
"""

import os

_JOB = os.environ.get("LAKEHOUSE_TEST_RAISE_IN")
if _JOB:
    from jobs.silver import engine

    _append = engine.append

    def append(spark, ctx, table_id, rows):
        if ctx.job == _JOB and table_id == "ops.batch_outcome":
            raise RuntimeError(f"injected fault: {_JOB} stops before recording its outcome")
        return _append(spark, ctx, table_id, rows)

    engine.append = append
