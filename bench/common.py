"""Shared plumbing for the benchmarks: a lakehouse root, its session, timing and memory readings."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import pyspark

    try:
        from importlib.metadata import version

        import delta  # noqa: F401

        delta_version = version("delta-spark")
    except Exception:  # noqa: BLE001
        delta_version = None
    mem = None
    try:
        mem = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration):
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return {"cpus": os.cpu_count(), "memory_mb": mem, "python": platform.python_version(),
            "pyspark": pyspark.__version__, "delta_spark": delta_version, "java": java[0] if java else None,
            "platform": platform.platform()}


def jvm_peak_mb(spark) -> float | None:
    """Peak resident memory of the Spark driver JVM (VmHWM), in MB."""
    try:
        pid = spark.sparkContext._gateway.proc.pid
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except (AttributeError, OSError):
        return None
    return None


def python_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed(results: dict, key: str):
    t0 = time.perf_counter()
    yield
    results[key] = round(time.perf_counter() - t0, 2)


def bench_config(root: Path, driver_memory: str = "6g"):
    from lakehouse_core.config import load_config

    os.environ.setdefault("LAKEHOUSE_SECRET_KEY", "bench-key-0123456789abcdef012345")
    cfg = load_config("local", str(root))
    cfg.raw["spark"]["conf"]["spark.driver.memory"] = driver_memory
    if os.environ.get("BENCH_PARALLEL"):  # jobs at a time (conf runner.parallel_jobs); the conf's value otherwise
        cfg.raw.setdefault("runner", {})["parallel_jobs"] = int(os.environ["BENCH_PARALLEL"])
    return cfg


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
               **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
