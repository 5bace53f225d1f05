"""Binary-classifier metrics on collected (probability, label) arrays, and the ROC / PR plots.

Scores are one double per customer, so collecting them is cheap even at scale 10 (~100k rows); computing
in NumPy gives every metric and both curves from one Spark action.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

EPS = 1e-15


@dataclass(frozen=True)
class Scores:
    probability: np.ndarray
    label: np.ndarray


def collect_scores(predictions: DataFrame, label: str = "label") -> Scores:
    """P(label = 1) and the label of every row of a Spark ML prediction frame."""
    rows = predictions.select(vector_to_array("probability")[1].alias("p"), F.col(label).cast("int").alias("y"))
    pdf = rows.toPandas()
    return Scores(pdf["p"].to_numpy(dtype=float), pdf["y"].to_numpy(dtype=int))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    sorted_x = x[order]
    # Tied values share the mean of their positions (1-based).
    _, start, counts = np.unique(sorted_x, return_index=True, return_counts=True)
    mean_rank = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, counts)
    return ranks


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Probability that a random churner scores above a random non-churner (ties count half)."""
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = _average_ranks(p)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def _by_threshold(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct score, from the highest down."""
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tps = np.cumsum(ys)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return tps.astype(float), fps.astype(float)


def roc_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tps, fps = _by_threshold(y, p)
    return np.r_[0.0, fps / max(fps[-1], 1)], np.r_[0.0, tps / max(tps[-1], 1)]


def pr_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at each distinct score threshold."""
    tps, fps = _by_threshold(y, p)
    return tps / max(tps[-1], 1), tps / (tps + fps)


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (step-wise, no optimistic interpolation)."""
    if y.sum() == 0:
        return float("nan")
    recall, precision = pr_curve(y, p)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    """Churn rate among the 10 % highest scores divided by the overall churn rate."""
    base = y.mean() if len(y) else 0.0
    if base == 0:
        return float("nan")
    k = max(int(np.ceil(len(y) / 10)), 1)
    top = np.argsort(-p, kind="mergesort")[:k]
    return float(y[top].mean() / base)


def binary_metrics(scores: Scores) -> dict[str, float]:
    y, p = scores.label, scores.probability
    return {"roc_auc": roc_auc(y, p), "pr_auc": pr_auc(y, p), "log_loss": log_loss(y, p),
            "top_decile_lift": top_decile_lift(y, p), "rows": float(len(y)),
            "positive_rate": float(y.mean()) if len(y) else float("nan")}


def plot_curves(curves: dict[str, Scores], folder: Path) -> list[Path]:
    """roc_curve.png and pr_curve.png with one line per named model (e.g. new model and champion)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, s in curves.items():
        fpr, tpr = roc_curve(s.label, s.probability)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(s.label, s.probability):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="random")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, evaluation period")
    ax.legend(loc="lower right")
    out.append(folder / "roc_curve.png")
    fig.savefig(out[-1], dpi=90, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, s in curves.items():
        recall, precision = pr_curve(s.label, s.probability)
        ax.step(recall, precision, where="post", label=f"{name} (AP {pr_auc(s.label, s.probability):.3f})")
    if curves:
        base = next(iter(curves.values())).label.mean()
        ax.axhline(base, linestyle=":", color="grey", label=f"churn rate {base:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, evaluation period", ylim=(0, 1.02))
    ax.legend(loc="upper right")
    out.append(folder / "pr_curve.png")
    fig.savefig(out[-1], dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out
