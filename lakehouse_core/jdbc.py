"""Database sources: which landing sources an environment reads over JDBC instead of files, and how.

An environment switches a source system to a database with a `sources:` section (see conf/local_postgres.yml):

    sources:
      payments:
        kind: jdbc                      # `files` (the default) reads <landing>/payments/...
        url: jdbc:postgresql://127.0.0.1:5432/payments
        table: public."The_transaction"
        user: lakehouse
        password_env: LAKEHOUSE_PG_PASSWORD   # the password itself never appears in conf/
        partition_column: Transaction_id      # integer key: parallel reads split its range
        watermark_column: modified_at         # timestamp bumped on every insert and update
        batch_column: batch                   # optional: the delivery day kept by the database
        num_partitions: 4

Nothing here touches Spark; the bronze job (`jobs/bronze/jdbc.py`) does the reading.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from lakehouse_core.config import Config
from lakehouse_core.errors import ConfigError, LakehouseError

POSTGRES_DRIVER = "org.postgresql.Driver"
POSTGRES_PACKAGE = "org.postgresql:postgresql:42.7.4"

_PLAIN = r"[A-Za-z_][A-Za-z0-9_$]*"
_QUOTED = r'"(?:[^"]|"")+"'
_PART = rf"(?:{_PLAIN}|{_QUOTED})"
_TABLE = re.compile(rf"^({_PART})(?:\.({_PART}))?\Z")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ $]{0,62}\Z")
_URL = re.compile(r"^jdbc:postgresql://([^/?#\s]+)/([A-Za-z0-9_.-]+)(\?[^#\s]*)?\Z")


def split_table(name: str) -> tuple[str, str]:
    """(schema, table), unquoted, from `schema.table` where either part may be "double-quoted"."""
    m = _TABLE.match(name.strip()) if isinstance(name, str) else None
    if not m:
        raise ConfigError(f"invalid table name {name!r}: expected schema.table (parts may be \"quoted\")")
    parts = [p for p in m.groups() if p is not None]
    unquoted = [p[1:-1].replace('""', '"') if p.startswith('"') else p.lower() for p in parts]
    return ("public", unquoted[0]) if len(unquoted) == 1 else (unquoted[0], unquoted[1])


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always quoted (so mixed case like The_transaction survives)."""
    return '"' + name.replace('"', '""') + '"'


def quoted_table(name: str) -> str:
    schema, table = split_table(name)
    return f"{quote_ident(schema)}.{quote_ident(table)}"


@dataclass(frozen=True)
class JdbcSource:
    """One landing source read from a database table."""

    source: str  # system/entity, as in lakedb.sources
    url: str
    table: str  # as configured; see `sql_table`
    user: str
    password_env: str
    partition_column: str
    watermark_column: str
    batch_column: str | None = None
    num_partitions: int = 4
    fetch_size: int = 10_000
    lag_seconds: float = 0.0
    connect_timeout_seconds: int = 10

    @property
    def sql_table(self) -> str:
        return quoted_table(self.table)

    @property
    def location(self) -> str:
        """`host:port/database`, for messages."""
        m = _URL.match(self.url)
        return f"{m.group(1)}/{m.group(2)}" if m else self.url

    @property
    def origin(self) -> str:
        """Where rows come from, without credentials: bronze's `_source_file` and the watermark's key."""
        schema, table = split_table(self.table)
        return f"{self.url.split('?')[0]}#{schema}.{table}"

    def password(self) -> str:
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(f"environment variable {self.password_env} is not set "
                              f"(the password of {self.user} on {self.location})")
        return value

    def reader_options(self) -> dict[str, str]:
        """Spark JDBC options shared by every read (the password is added by the caller, never logged)."""
        return {
            "url": self.url,
            "user": self.user,
            "driver": POSTGRES_DRIVER,
            "fetchsize": str(self.fetch_size),
            # Read timestamps and render dates the same way whatever the JVM's zone is.
            "sessionInitStatement": "SET TIME ZONE 'UTC'",
            "connectTimeout": str(self.connect_timeout_seconds),
            "ApplicationName": "lakehouse",
        }


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return value


def jdbc_source(cfg: Config, source_name: str) -> JdbcSource | None:
    """The environment's JDBC settings for `source_name` (system/entity), or None when it is read from files."""
    system = source_name.split("/", 1)[0]
    spec = (cfg.section("sources") or {}).get(system)
    if spec is None:
        return None
    where = f"conf/{cfg.env}.yml sources.{system}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping")
    kind = spec.get("kind", "files")
    if kind == "files":
        return None
    if kind != "jdbc":
        raise ConfigError(f"{where}.kind must be files or jdbc, got {kind!r}")
    missing = [k for k in ("url", "table", "user", "password_env", "partition_column", "watermark_column")
               if not spec.get(k)]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}")
    unknown = set(spec) - {"kind", "url", "table", "user", "password_env", "partition_column", "watermark_column",
                           "batch_column", "num_partitions", "fetch_size", "lag_seconds", "connect_timeout_seconds"}
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}")
    url = str(spec["url"])
    if not _URL.match(url):
        raise ConfigError(f"{where}.url must look like jdbc:postgresql://host:port/database, got {url!r}")
    if re.search(r"password", url, re.IGNORECASE):
        raise ConfigError(f"{where}.url must not carry a password: use password_env")
    split_table(str(spec["table"]))
    for key in ("partition_column", "watermark_column", "batch_column"):
        if spec.get(key) is not None and not _COLUMN.match(str(spec[key])):
            raise ConfigError(f"{where}.{key} is not a column name: {spec[key]!r}")
    lag = spec.get("lag_seconds", 0)
    if isinstance(lag, bool) or not isinstance(lag, (int, float)) or lag < 0:
        raise ConfigError(f"{where}.lag_seconds must be a number >= 0")
    return JdbcSource(
        source=source_name, url=url, table=str(spec["table"]), user=str(spec["user"]),
        password_env=str(spec["password_env"]), partition_column=str(spec["partition_column"]),
        watermark_column=str(spec["watermark_column"]),
        batch_column=str(spec["batch_column"]) if spec.get("batch_column") else None,
        num_partitions=_positive_int(spec.get("num_partitions", 4), f"{where}.num_partitions"),
        fetch_size=_positive_int(spec.get("fetch_size", 10_000), f"{where}.fetch_size"),
        lag_seconds=float(lag),
        connect_timeout_seconds=_positive_int(spec.get("connect_timeout_seconds", 10),
                                              f"{where}.connect_timeout_seconds"),
    )


_CAUSES = (
    # (pattern in the Java exception text, what to tell the user)
    (re.compile(r"PSQLException: (FATAL: )?(.+)"), None),
    (re.compile(r"java\.net\.(ConnectException|UnknownHostException|SocketTimeoutException): (.+)"), None),
    (re.compile(r"(ClassNotFoundException: org\.postgresql\.Driver|No suitable driver)"),
     f"the PostgreSQL JDBC driver is not on the classpath (add {POSTGRES_PACKAGE} to spark.packages)"),
)


def database_error(exc: BaseException, src: JdbcSource) -> LakehouseError | None:
    """A one-line error naming the database and the cause, if `exc` came from the JDBC connection; else None."""
    text = str(exc)
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text = f"{text}\n{java.toString()}"
            cause = java.getCause()
            while cause is not None:
                text += f"\n{cause.toString()}"
                cause = cause.getCause()
        except Exception:  # noqa: BLE001 - the gateway may be gone; the Python text is enough
            pass
    for pattern, message in _CAUSES:
        m = pattern.search(text)
        if m:
            reason = message or m.groups()[-1].strip().splitlines()[0]
            try:
                secret = src.password()
            except ConfigError:
                secret = ""
            if secret:
                reason = reason.replace(secret, "***")
            return LakehouseError(f"cannot read {src.table} from {src.location} as {src.user}: {reason}"[:400])
    return None
