"""File listing and small reads through Hadoop's FileSystem, so local paths and abfss:// behave alike."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

from pyspark.sql import SparkSession

# Landing folders are <landing>/<system>/<entity>/batch=YYYY-MM-DD/<file>.
BATCH_FOLDER = re.compile(r"batch=(\d{4}-\d{2}-\d{2})")


def batch_of(path: str) -> dt.date | None:
    """The delivery day a `batch=YYYY-MM-DD` folder names; None without one or for a day no calendar has."""
    m = BATCH_FOLDER.search(path)
    try:
        return dt.date.fromisoformat(m.group(1)) if m else None
    except ValueError:
        return None


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    modified_at: dt.datetime


def _fs(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jpath


# Files still being written: Hadoop's `hdfs dfs -put` / `-cp` copy to `<name>._COPYING_`, then rename.
IN_FLIGHT_SUFFIXES = ("._COPYING_",)


def _skipped(name: str) -> bool:
    """Hidden and `_`-prefixed names (Spark's own rule: _SUCCESS, .crc, ...) and copies in flight."""
    return name.startswith((".", "_")) or name.endswith(IN_FLIGHT_SUFFIXES)


def list_files(spark: SparkSession, root: str) -> list[FileInfo]:
    """All files under `root` (recursive), skipping hidden and `_`-prefixed names and copies still in flight
    (`*._COPYING_`: taken on a later run, once renamed); [] if root is absent.

    Paths are as Hadoop names them (`file:/...` locally), whichever way they were listed: the ingestion ledger
    compares them across runs.
    """
    fs, jpath = _fs(spark, root)
    if fs.getScheme() == "file":
        # The local file system is walked from Python. Hadoop's listing costs a py4j round trip per call and,
        # without Hadoop's native library, an `ls -ld` process per file for permissions nobody reads: about
        # 13 ms a file, which a landing folder growing by a few files a day turns into seconds every run.
        return _list_local(fs.makeQualified(jpath).toUri().getPath())
    return _list_hadoop(fs, jpath)


def _list_hadoop(fs, jpath) -> list[FileInfo]:
    if not fs.exists(jpath):
        return []
    out = []
    it = fs.listFiles(jpath, True)
    while it.hasNext():
        st = it.next()
        if _skipped(st.getPath().getName()):
            continue
        out.append(FileInfo(path=st.getPath().toString(), size=st.getLen(), modified_at=_utc(st.getModificationTime())))
    return sorted(out, key=lambda f: f.path)


def _utc(millis: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc).replace(tzinfo=None)


def _list_local(base: str) -> list[FileInfo]:
    """What Hadoop's recursive listing of a local folder returns: symlinked folders followed, times in ms."""
    def info(path: str) -> FileInfo | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:  # a dangling symlink, or a file removed while listing: not a file to take
            return None
        return FileInfo(path="file:" + path, size=st.st_size, modified_at=_utc(st.st_mtime_ns // 1_000_000))

    if os.path.isfile(base):
        found = [info(base)]
    else:
        found = [info(os.path.join(folder, name)) for folder, _, names in os.walk(base, followlinks=True)
                 for name in names if not _skipped(name)]
    return sorted((f for f in found if f is not None), key=lambda f: f.path)


GLOB_CHARACTERS = re.compile(r"([\\\[\]{}*?])")


def glob_escape(path: str) -> str:
    """`path` for Spark's file readers, which read paths as glob patterns ("p[1].csv" would mean "p1.csv")."""
    return GLOB_CHARACTERS.sub(r"\\\1", path)


def local_path(path: str) -> str | None:
    """The OS path of a `file:` or scheme-less path; None for remote storage."""
    if path.startswith("file:"):
        return "/" + path[5:].lstrip("/")
    return None if "://" in path else path


def read_head(spark: SparkSession, path: str, limit: int = 65536) -> bytes:
    """The first line of a file as bytes (with its line end), at most `limit` bytes."""
    local = local_path(path)
    if local is not None:
        with open(local, "rb") as fh:
            return fh.readline(limit)
    fs, jpath = _fs(spark, path)
    jvm = spark.sparkContext._jvm
    stream = fs.open(jpath)
    try:
        # ISO-8859-1 maps bytes 1:1 to chars, so the line's bytes survive the trip through py4j.
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "ISO-8859-1"))
        line = reader.readLine()
        return b"" if line is None else (line[:limit].encode("latin-1") + b"\n")
    finally:
        stream.close()
