"""The one place that builds the SparkSession: Delta, the catalog, and small-machine settings."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse_core.config import Config, ensure_local_root

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def delta_maven_coordinate() -> str:
    """The Delta jar that pairs with the installed delta-spark and pyspark (Scala 2.12 on 3.x, 2.13 on 4.x)."""
    import pyspark

    scala = "2.13" if int(pyspark.__version__.split(".")[0]) >= 4 else "2.12"
    try:
        delta = version("delta-spark")
    except PackageNotFoundError:  # pragma: no cover - delta-spark is a hard dependency
        delta = "3.3.2"
    return f"io.delta:delta-spark_{scala}:{delta}"


def jar_cache_dir() -> Path:
    """Ivy cache shared by every run and test on this machine (LAKEHOUSE_JAR_CACHE overrides)."""
    return Path(os.environ.get("LAKEHOUSE_JAR_CACHE", Path.home() / ".cache" / "lakehouse" / "jars"))


def _resolved_marker(packages: list[str]) -> Path:
    digest = hashlib.sha256(",".join(sorted(packages)).encode()).hexdigest()[:16]
    return jar_cache_dir() / f"resolved-{digest}.txt"


def _cached_jars(packages: list[str]) -> list[str] | None:
    marker = _resolved_marker(packages)
    if not marker.is_file():
        return None
    jars = [line for line in marker.read_text().splitlines() if line]
    return jars if jars and all(Path(j).is_file() for j in jars) else None


def packages_for(cfg: Config) -> list[str]:
    return [delta_maven_coordinate(), *cfg.spark.get("packages", [])]


def local_builder(cfg: Config, app_name: str) -> SparkSession.Builder:
    """Builder for the embedded default: Delta jars from Maven Central (cached), a Derby metastore under the root."""
    spark_cfg = cfg.spark
    root = Path(cfg.root)
    builder = SparkSession.builder.appName(app_name).master(spark_cfg.get("master", "local[2]"))
    builder = builder.config("spark.sql.extensions", DELTA_EXTENSION)
    builder = builder.config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
    # Python workers use this interpreter (the virtualenv's), not whatever `python3` is first on PATH.
    builder = builder.config("spark.pyspark.python", sys.executable)

    log4j = Path(__file__).resolve().parent / "resources" / "log4j2.properties"
    java_opts = [f"-Dlog4j2.configurationFile=file:{log4j}"]
    packages = packages_for(cfg)
    cached = _cached_jars(packages)
    if cached:
        # Later runs: hand Spark the jar files themselves, so no resolver runs and no network is needed.
        builder = builder.config("spark.jars", ",".join(cached))
    else:
        builder = builder.config("spark.jars.packages", ",".join(packages))
        builder = builder.config("spark.jars.ivy", str(jar_cache_dir() / "ivy"))

    if spark_cfg.get("metastore", "derby") == "derby":
        meta = root / "_metastore"
        meta.mkdir(parents=True, exist_ok=True)
        builder = builder.config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={meta / 'metastore_db'};create=true",
        )
        java_opts.append(f"-Dderby.system.home={meta}")
        builder = builder.config("spark.sql.warehouse.dir", cfg.path("warehouse"))
        builder = builder.enableHiveSupport()
    conf = dict(spark_cfg.get("conf") or {})
    # The conf's driver options (conf/local.yml's garbage collector) join ours instead of replacing them.
    extra = str(conf.pop("spark.driver.extraJavaOptions", "") or "").strip()
    if extra:
        java_opts.append(extra)
    builder = builder.config("spark.driver.extraJavaOptions", " ".join(java_opts))
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    return builder


def get_spark(cfg: Config, app_name: str = "lakehouse") -> SparkSession:
    """Return the session for `cfg`: built here locally, taken from the platform on a cluster."""
    if not cfg.local:
        # Synapse and Databricks ship Delta and own the catalog: add only our settings, fetch nothing.
        spark = SparkSession.builder.appName(app_name).getOrCreate()
        for key, value in (cfg.spark.get("conf") or {}).items():
            try:
                spark.conf.set(key, str(value))
            except Exception:  # noqa: BLE001 - static confs cannot be changed on a running cluster
                pass
        return spark
    ensure_local_root(cfg)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    spark = local_builder(cfg, app_name).getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("LAKEHOUSE_SPARK_LOG_LEVEL", "WARN"))
    _remember_resolved_jars(spark, packages_for(cfg))
    return spark


def _remember_resolved_jars(spark: SparkSession, packages: list[str]) -> None:
    marker = _resolved_marker(packages)
    if marker.is_file():
        return
    jars = [j.removeprefix("file:") for j in spark.conf.get("spark.jars", "").split(",") if j]
    if jars and all(Path(j).is_file() for j in jars):
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(".tmp")
        tmp.write_text("\n".join(jars) + "\n")
        tmp.replace(marker)


@contextmanager
def conf_set(spark: SparkSession, key: str, value: str | int | None) -> Iterator[None]:
    """The session's SQL conf `key` is `value` meanwhile, then what it was (unset if it was); None changes nothing."""
    if value is None:
        yield
        return
    before = spark.conf.get(key, None)
    spark.conf.set(key, str(value))
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)
