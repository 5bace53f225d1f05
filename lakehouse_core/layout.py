"""How MERGE targets are laid out in files, so that a day's MERGE rewrites a few small files, not the table.

A Delta MERGE rewrites every file holding a row it updates or deletes. Written in Spark's default way, a table
is a few large files in no particular key order: the 44 status changes a day brings to silver.transaction at
scale 10 fell in 2 of its 4 files and copied 630,000 rows. Written clustered by key (range-partitioned and
sorted) in files of at most `tables.rows_per_file` rows, the rows a MERGE updates (recent ids, mostly) share a
few files, and a literal IN list of the source's keys in the MERGE condition lets Delta skip the others by
their min/max statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse_core.config import Config
from lakehouse_core.errors import ConfigError
from lakehouse_core.session import conf_set

# Above this many distinct keys an IN list costs more to plan than the file skipping saves.
PRUNE_MAX_KEYS = 5000
MAX_RECORDS_PER_FILE = "spark.sql.files.maxRecordsPerFile"


def rows_per_file(cfg: Config) -> int:
    """Conf `tables.rows_per_file`: the most rows a file of a MERGE target gets when written whole; 0: no limit."""
    value = cfg.section("tables").get("rows_per_file") or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"conf tables.rows_per_file must be a whole number >= 0, not {value!r}")
    return value


def clustered(df: DataFrame, keys: Sequence[str], sort: Sequence[str] | None = None) -> DataFrame:
    """`df` range-partitioned by `keys` and sorted within partitions (by `sort`, default the keys): written inside
    `files_of_at_most`, each file holds one key range."""
    return df.repartitionByRange(*keys).sortWithinPartitions(*(sort or keys))


def files_of_at_most(spark: SparkSession, max_rows: int) -> AbstractContextManager[None]:
    """Writes of this session make files of at most `max_rows` rows meanwhile (0: no limit). A session conf, not a
    writer option: `insertInto` drops writer options."""
    return conf_set(spark, MAX_RECORDS_PER_FILE, max_rows or None)


def key_list(df: DataFrame, column: str) -> list[int] | None:
    """The distinct values of a whole-number key column when they are few and none is null, else None."""
    ids = [r[0] for r in df.select(column).distinct().limit(PRUNE_MAX_KEYS + 1).collect()]
    if len(ids) > PRUNE_MAX_KEYS or any(i is None for i in ids):
        return None
    return sorted(int(i) for i in ids)


def whole_numbers_sql(column: str, values: list[int]) -> str:
    """SQL text `column IN (values)` for whole-number keys (`column` as it is to appear, quoted or qualified)."""
    return f"{column} IN ({', '.join(str(int(v)) for v in values)})"


def whole_number_in(column: str, values: list[int]) -> Column:
    """`column IN (values)` as one SQL expression. Column.isin makes one py4j call per value: with a few thousand
    keys that was 0.7 s of silver_transaction's incremental run."""
    if not values:
        return F.lit(False)
    return F.expr(whole_numbers_sql(f"`{column}`", values))
