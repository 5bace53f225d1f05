"""Small simulated landings shared by the simulator tests (generated once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse_core.simulator import generate

SCALE, DAYS, SEED = 0.03, 5, 11


@dataclass
class Run:
    landing: Path
    truth: Path
    summary: dict


def _run(tmp_path_factory, name: str, **kwargs) -> Run:
    root = tmp_path_factory.mktemp(name)
    args = {"days": DAYS, "scale": SCALE, "seed": SEED} | kwargs
    summary = generate(root / "landing", root / "truth", **args)
    return Run(root / "landing", root / "truth", summary)


@pytest.fixture(scope="session")
def dirty(tmp_path_factory) -> Run:
    """Default defect rate (1%)."""
    return _run(tmp_path_factory, "dirty", defects=0.01)


@pytest.fixture(scope="session")
def clean(tmp_path_factory) -> Run:
    """No defects: only behaviour (updates, re-sends, late customers)."""
    return _run(tmp_path_factory, "clean", defects=0.0)


@pytest.fixture(scope="session")
def run_factory(tmp_path_factory):
    def make(name: str, **kwargs) -> Run:
        return _run(tmp_path_factory, name, **kwargs)

    return make
