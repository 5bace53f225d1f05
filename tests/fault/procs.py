"""Start `lakehouse` as a separate process group, and kill the whole group (driver and JVM) at a chosen point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


def lakehouse(*args: str, root: Path, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([LAKEHOUSE, *args, "--root", str(root)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def start(*args: str, root: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([LAKEHOUSE, *args, "--root", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True)


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], delay: float = 0.0, timeout: float = 300) -> bool:
    """SIGKILL the process group once `ready()` holds (then after `delay` s); False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            time.sleep(delay)
            if proc.poll() is not None:
                return False
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return True
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise TimeoutError("the process never reached the kill point")


def delta_commits(table_dir: Path) -> int:
    log = table_dir / "_delta_log"
    return len(list(log.glob("*.json"))) if log.is_dir() else 0


def generated_landing(parent: Path, seed: int) -> Path:
    """A small simulated delivery (3 days, scale 0.03, 2% defects) under `parent`, shared by a module's lakes."""
    out = lakehouse("generate", "--days", "3", "--scale", "0.03", "--seed", str(seed), "--defects", "0.02", root=parent)
    assert out.returncode == 0, out.stderr
    return parent


def new_lake(landing: Path, parent: Path) -> Path:
    """A root whose landing (and truth) are the shared delivery: every lake ingests the same files."""
    root = parent / "lake"
    root.mkdir(parents=True)
    (root / "landing").symlink_to(landing / "landing")
    (root / "_truth").symlink_to(landing / "_truth")
    return root
