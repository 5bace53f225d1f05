"""Churn model beside the oracle: ROC AUC of the trained model and of the simulator's hidden churn probability
on the same customers and period, plus training time and scoring rate.

    .venv/bin/python bench/ml.py --scales 1 10 --days 5

simulator -> bronze -> silver -> gold (the manifest's jobs), then `ml.churn.train` with the truth's cutoffs,
then `ml.score` and `ml.segments`. Only this benchmark reads `_truth/` (the cutoffs, to line up with the
oracle, and the hidden probabilities); the training code never does. The oracle is scored against the same
observed labels as the model (no transaction in the 90 days after the cutoff), on the customers both know.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_config, jvm_peak_mb, python_peak_mb, run_scales  # noqa: E402


def read_truth(truth_dir: Path, cutoff: str) -> dict[int, tuple[float, int]]:
    """customer_id -> (hidden probability, churned in the simulator) at one cutoff."""
    out = {}
    with open(truth_dir / "churn_truth.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["cutoff"] == cutoff:
                out[int(row["customer_id"])] = (float(row["hidden_probability"]), int(row["churned_in_90d"]))
    return out


def gold_jobs(manifest, tables) -> list[str]:
    """The jobs that build `tables`, with everything upstream of them."""
    writers = {t: n for n, j in manifest.jobs.items() for t in j.writes}
    missing = [t for t in tables if t not in writers]
    if missing:
        raise SystemExit(f"no job in conf/pipeline.yml writes {', '.join(missing)}: gold is not ready")
    return manifest.select(",".join(f"+{writers[t]}" for t in tables))


def bench_scale(scale: float, days: int, base: Path, grid: str, reuse: bool = False) -> dict:
    import numpy as np
    from pyspark.ml.functions import vector_to_array

    import lakedb
    from lakehouse_core.catalog import ensure_tables, qualified
    from lakehouse_core.context import JobContext
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.runner import Reporter, run_jobs
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate
    from ml import churn, score, segments, tracking
    from ml.evaluation import roc_auc

    root = base / f"ml_s{scale:g}"
    reuse = reuse and (root / "_truth" / "truth.json").is_file()
    if not reuse:
        shutil.rmtree(root, ignore_errors=True)
    cfg = bench_config(root, driver_memory="2g")
    landing, truth_dir = Path(cfg.path("landing")), Path(cfg.path("truth"))
    if not reuse:
        generate(landing, truth_dir, days=days, scale=scale, seed=7, defects=0.01)
    meta = json.loads((truth_dir / "truth.json").read_text())
    train_cutoff, eval_cutoff = meta["train_cutoff"], meta["eval_cutoff"]

    spark = get_spark(cfg, "bench-ml")
    manifest = load_manifest()
    t0 = time.perf_counter()
    if not reuse:  # --reuse: the gold tables of an earlier run of this benchmark (to iterate on the model)
        run_jobs(spark, cfg, manifest, gold_jobs(manifest, churn.INPUT_TABLES), reporter=Reporter(quiet=True))
    pipeline_s = time.perf_counter() - t0
    ensure_tables(spark, cfg, [t for t in lakedb.TABLES if t.id in ("gold.churn_score", "gold.customer_segment")])

    def ctx(job: str) -> JobContext:
        return JobContext(spark=spark, cfg=cfg, run_id=f"bench-{job}", job=job, log=lambda m: print(m, file=sys.stderr))

    t0 = time.perf_counter()
    out = churn.train(ctx("ml_train_churn"), train_cutoff=train_cutoff, eval_cutoff=eval_cutoff, grid=grid)
    train_s = time.perf_counter() - t0

    # Customer-level evaluation scores of the chosen model, lined up with the truth by customer id.
    frames, _ = tracking.read_pinned(spark, {t: qualified(cfg, t) for t in churn.INPUT_TABLES})
    eval_df = churn.labelled(frames, out.cutoffs.eval, out.cutoffs.horizon_days)
    scored = out.chosen.model.transform(eval_df).select(
        "customer_id", vector_to_array("probability")[1].alias("p"), "label").toPandas()
    truth = read_truth(truth_dir, str(out.cutoffs.eval))
    both = scored[scored.customer_id.isin(list(truth))]
    hidden = np.array([truth[c][0] for c in both.customer_id])
    churned = np.array([truth[c][1] for c in both.customer_id])
    y, p = both.label.to_numpy(dtype=int), both.p.to_numpy()
    model_auc, oracle_auc = roc_auc(y, p), roc_auc(y, hidden)

    t0 = time.perf_counter()
    scoring = score.run(ctx("ml_score_churn"))
    score_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    seg = segments.run(ctx("ml_segments"))
    segments_s = time.perf_counter() - t0

    result = {
        "scale": scale, "days": days, "grid": grid,
        "train_cutoff": train_cutoff, "eval_cutoff": eval_cutoff,
        "pipeline_to_gold_seconds": None if reuse else round(pipeline_s, 1),
        "rows": out.rows, "chosen_family": out.chosen.candidate.family,
        "chosen_params": out.chosen.candidate.params,
        "validation_auc": {c.label: round(a, 4) for c, a in out.validation},
        "eval_metrics": {k: round(v, 4) for k, v in out.chosen.metrics.items()},
        "eval_metrics_by_family": {f: {k: round(v, 4) for k, v in m.items()} for f, m in out.family_eval.items()},
        "customers_compared": int(len(both)), "eval_customers": int(len(scored)), "truth_customers": len(truth),
        "model_roc_auc": round(model_auc, 4), "oracle_roc_auc": round(oracle_auc, 4),
        "gap_to_oracle": round(oracle_auc - model_auc, 4),
        "within_0_03": bool(oracle_auc - model_auc <= 0.03),
        # Against the simulator's own churn flag instead of the observed label (for reference).
        "model_roc_auc_vs_churn_flag": round(roc_auc(churned, p), 4),
        "oracle_roc_auc_vs_churn_flag": round(roc_auc(churned, hidden), 4),
        "observed_label_agrees_with_churn_flag": round(float((y == churned).mean()), 4),
        "train_seconds": round(train_s, 1),
        "scoring_seconds": round(score_s, 1), "scored_rows": scoring.rows_read,
        "scoring_rows_per_second": round(scoring.rows_read / score_s, 1),
        "scoring_transform_merge_seconds": scoring.detail["seconds"],
        "scoring_transform_merge_rows_per_second": round(scoring.rows_read / scoring.detail["seconds"], 1),
        "segments_seconds": round(segments_s, 1), "segments": seg.detail["segments"],
        "promotion_decision": out.decision.reason,
        "jvm_peak_mb": jvm_peak_mb(spark), "python_peak_mb": round(python_peak_mb()),
    }
    spark.stop()
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--grid", default="default")
    p.add_argument("--base", default="/tmp/lakehouse-bench")
    p.add_argument("--reuse", action="store_true", help="keep the gold tables of an earlier run of this scale")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:  # one scale per process: each gets its own JVM and metastore
        print(json.dumps(bench_scale(args.scales[0], args.days, Path(args.base), args.grid, args.reuse), default=str))
        return
    extra = ["--days", str(args.days), "--grid", args.grid, "--base", args.base, *(["--reuse"] if args.reuse else [])]
    raise SystemExit(run_scales(__file__, "ml", args.scales, extra))


if __name__ == "__main__":
    main()
