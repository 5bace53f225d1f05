"""Evaluation metrics on arrays small enough to work out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml import evaluation as ev

Y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
P = np.array([0.9, 0.8, 0.4, 0.1, 0.3, 0.2, 0.2, 0.05, 0.6, 0.2])


def test_metrics_match_hand_computed_values():
    got = ev.binary_metrics(ev.Scores(P, Y))
    # Positives 0.9, 0.4, 0.2 against the 7 negatives: 7 + 5 + (2 + 0.5 * 2) wins = 15 of 21 pairs.
    # Average precision: recall steps at ranks 1 (P 1), 4 (P 2/4) and the 0.2 tie (ranks 6-8: P 3/8).
    expected_ap = (1 + 2 / 4 + 3 / 8) / 3
    expected_ll = -np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P))
    assert got == pytest.approx({"roc_auc": 15 / 21, "pr_auc": expected_ap, "log_loss": expected_ll,
                   "top_decile_lift": 1 / 0.3, "rows": 10.0, "positive_rate": 0.3}, abs=1e-12)


def test_auc_of_a_perfect_and_a_reversed_ranking():
    y = np.array([0, 0, 1, 1])
    assert (ev.roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])), ev.roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1]))) == (1.0, 0.0)
    assert math.isnan(ev.roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))
