"""Shared plumbing for the benchmarks: a lakehouse root, its session, timing and memory readings."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# The key that seals unparseable raw lines in benchmark lakes, unless LAKEHOUSE_SECRET_KEY is set (32 bytes: AES-256).
BENCH_SECRET_KEY = "bench-key-0123456789abcdef012345"


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


@contextlib.contextmanager
def timed(results: dict, key: str):
    t0 = time.perf_counter()
    yield
    results[key] = round(time.perf_counter() - t0, 2)


def bench_config(root: Path, driver_memory: str = "6g"):
    from lakehouse_core.config import load_config

    os.environ.setdefault("LAKEHOUSE_SECRET_KEY", BENCH_SECRET_KEY)
    cfg = load_config("local", str(root))
    cfg.raw["spark"]["conf"]["spark.driver.memory"] = driver_memory
    if os.environ.get("BENCH_PARALLEL"):  # jobs at a time (conf runner.parallel_jobs); the conf's value otherwise
        runner = cfg.raw.setdefault("runner", {})  # one number for every layer, like `--parallel`
        runner["parallel_jobs"] = int(os.environ["BENCH_PARALLEL"])
        runner.pop("parallel_jobs_by_layer", None)
    return cfg


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_results(name: str, payload: dict) -> Path:
    """bench/results/<name>.json. Runs are kept per scale: measuring scale 10 alone keeps the last scale-1 run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    if "runs" in payload and path.is_file():
        new_scales = {r.get("scale") for r in payload["runs"]}
        try:
            earlier = [r for r in json.loads(path.read_text()).get("runs", []) if r.get("scale") not in new_scales]
        except (ValueError, AttributeError):
            earlier = []
        payload = {**payload, "runs": sorted(earlier + payload["runs"], key=lambda r: r.get("scale") or 0)}
    payload = {"benchmark": name, "at": now(), "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def run_within(cmd: list[str], budget_s: float | None) -> subprocess.CompletedProcess | None:
    """Run `cmd` (output captured); None when it is still running after `budget_s` seconds: it is then killed with
    every process it started (its Spark JVM), as a process group."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=budget_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_scales(script: str, name: str, scales: list[float], args: list[str], show=None,
               budget_minutes: float | None = None, progress=None) -> int:
    """Each scale in its own process (its own JVM and metastore): `script --one --scales S *args` prints one
    JSON line. The runs go to bench/results/<name>.json; a failed scale is recorded with its last error line.

    A scale still running after `budget_minutes` is stopped and recorded as unfinished, with what
    `progress(scale)` says it got through (a scale that does not fit the time budget is a result, not a failure).
    """
    runs, failed = [], 0
    for scale in scales:
        t0 = time.perf_counter()
        out = run_within([sys.executable, script, "--one", "--scales", str(scale), *args],
                         budget_minutes * 60 if budget_minutes else None)
        if out is None:
            run = {"scale": scale, "measured_at": now(), "unfinished": {
                "budget_minutes": budget_minutes, "stopped_after_seconds": round(time.perf_counter() - t0, 1),
                "progress": progress(scale) if progress else None}}
            print(json.dumps(run, default=str), flush=True)
            runs.append(run)
            continue
        if out.returncode != 0:
            failed += 1
            print(f"scale {scale} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
            runs.append({"scale": scale, "measured_at": now(), "failed": out.stderr.strip().splitlines()[-1:]})
            continue
        run = {**json.loads(out.stdout.strip().splitlines()[-1]), "measured_at": now()}
        print(json.dumps(show(run) if show else run, default=str), flush=True)
        runs.append(run)
    print(write_results(name, {"runs": runs}))
    return 1 if failed else 0
