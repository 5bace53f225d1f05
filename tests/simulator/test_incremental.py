"""A run with more days only adds batches: the shared ones are byte-identical and are not rewritten."""

from __future__ import annotations

from pathlib import Path

from lakehouse_core.simulator import generate

from .checks import read_csv_dicts


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_more_days_only_add_batches(tmp_path):
    args = {"scale": 0.02, "seed": 4, "defects": 0.02}
    generate(tmp_path / "short" / "landing", tmp_path / "short" / "truth", days=3, **args)
    generate(tmp_path / "long" / "landing", tmp_path / "long" / "truth", days=5, **args)
    short, long = _tree(tmp_path / "short" / "landing"), _tree(tmp_path / "long" / "landing")
    assert {k: v for k, v in long.items() if k in short} == short
    added = sorted({k.split("/")[2] for k in long if k not in short})
    assert added == ["batch=2025-01-04", "batch=2025-01-05"]
    # The truth of the shared batches is the same too.
    def shared(run):
        return [r for r in read_csv_dicts(tmp_path / run / "truth" / "defects.csv") if r["file"] in short]

    assert shared("long") == shared("short")
    churn = {run: (tmp_path / run / "truth" / "churn_truth.csv").read_bytes() for run in ("short", "long")}
    assert churn["short"] == churn["long"]


def test_extending_in_place_leaves_existing_files_untouched(tmp_path):
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    args = {"scale": 0.01, "seed": 2}
    generate(landing, truth, days=2, **args)
    before = {p: p.stat().st_mtime_ns for p in landing.rglob("*") if p.is_file()}
    summary = generate(landing, truth, days=3, **args)
    after = {p: p.stat().st_mtime_ns for p in landing.rglob("*") if p.is_file()}
    assert {p: after[p] for p in before} == before
    new = sorted(p.relative_to(landing).parent.name for p in set(after) - set(before))
    assert set(new) == {"batch=2025-01-03"} and summary["files"] == len(after)
    assert not any(p.name.startswith(".") for p in landing.rglob("*"))
