"""Classification metrics: ROC/AUC against brute force and hand-made cases, rejection with
interpolation and infinities, bootstrap errors, the table, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench.metrics import (
    PUBLISHED_TOP_TAGGING,
    accuracy,
    auc,
    background_rejection,
    best_threshold,
    bootstrap,
    classification_table,
    roc_curve,
)


def _pairwise_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(s_sig > s_bkg) + P(s_sig == s_bkg) / 2 by counting all pairs."""
    sig, bkg = scores[labels == 1], scores[labels == 0]
    wins = (sig[:, None] > bkg[None, :]).sum() + 0.5 * (sig[:, None] == bkg[None, :]).sum()
    return float(wins / (len(sig) * len(bkg)))


def _gaussian(n: int, seed: int, separation: float = 1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return rng.normal(size=n) + separation * labels, labels


def test_auc_equals_the_pairwise_count_with_and_without_ties():
    for seed in range(3):
        scores, labels = _gaussian(300, seed)
        assert auc(scores, labels) == pytest.approx(_pairwise_auc(scores, labels), abs=1e-12)
        rounded = np.round(scores, 1)  # many ties
        assert auc(rounded, labels) == pytest.approx(_pairwise_auc(rounded, labels), abs=1e-12)


def test_auc_and_roc_known_cases():
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])  # the example of sklearn's roc_curve docs
    fpr, tpr, thresholds = roc_curve(scores, labels)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thresholds, [np.inf, 0.8, 0.4, 0.35, 0.1])
    assert auc(scores, labels) == 0.75
    assert auc([1, 2, 3, 4], labels) == 1.0
    assert auc([4, 3, 2, 1], labels) == 0.0
    assert auc([7, 7, 7, 7], labels) == 0.5
    assert auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])) == 0.75
    assert auc(scores, labels.astype(bool)) == 0.75


def test_background_rejection_by_hand():
    # ROC points (eps_B, eps_S): (0,0) (0,.5) (.25,.5) (.5,1) [tie of one S and one B] (.75,1)
    # (1,1). At eps_S = 0.75: between (.25,.5) and (.5,1): eps_B = .375, rejection 8/3.
    scores = np.array([0.9, 0.5, 0.8, 0.5, 0.2, 0.1])
    labels = np.array([1, 1, 0, 0, 0, 0])
    assert background_rejection(scores, labels, 0.75) == pytest.approx(1 / 0.375)
    assert background_rejection(scores, labels, 1.0) == pytest.approx(2.0)  # first to reach 1
    # below eps_S = 0.5 no background passes: eps_B = 0, reported as inf
    assert background_rejection(scores, labels, 0.3) == math.inf
    assert background_rejection(scores, labels, 0.5) == math.inf
    # a smooth case: two unit Gaussians 2 apart, eps_S = 0.5 cuts at the signal median,
    # eps_B = P(N(0,1) > 2) = 0.02275, rejection 43.96
    rng = np.random.default_rng(0)
    n = 200_000
    scores = np.r_[rng.normal(2, 1, n), rng.normal(0, 1, n)]
    labels = np.r_[np.ones(n), np.zeros(n)]
    assert background_rejection(scores, labels, 0.5) == pytest.approx(43.96, rel=0.03)
    with pytest.raises(ValueError, match="signal_efficiency"):
        background_rejection(scores, labels, 0.0)


def test_accuracy_and_best_threshold():
    scores = np.array([0.2, 0.6, 0.4, 0.9])
    labels = np.array([0, 0, 1, 1])
    assert accuracy(scores, labels) == 0.5
    assert accuracy(scores, labels, threshold=0.3) == 0.75
    cut = best_threshold(scores, labels)
    assert accuracy(scores, labels, cut) == 0.75
    separable = np.array([-3.0, -2.0, 5.0, 6.0])
    cut = best_threshold(separable, labels)
    assert -2.0 < cut < 5.0 and accuracy(separable, labels, cut) == 1.0


def test_bootstrap_std_shrinks_with_the_number_of_events():
    small, large = _gaussian(400, 1), _gaussian(6400, 2)
    value, std_small = bootstrap(auc, *small, n=100, seed=0)
    assert value == auc(*small)
    _, std_large = bootstrap(auc, *large, n=100, seed=0)
    assert 0 < std_large < std_small / 2.5  # ~1/sqrt(N): a factor 4
    assert bootstrap(auc, *small, n=100, seed=0) == (value, std_small)  # reproducible
    # the std itself settles as resamples grow: 400 vs 100 resamples within 25 %
    _, std_many = bootstrap(auc, *small, n=400, seed=1)
    assert std_many == pytest.approx(std_small, rel=0.25)


def test_bootstrap_of_an_unmeasurable_rejection_reports_inf():
    scores = np.r_[np.arange(10.0, 20.0), np.arange(0.0, 5.0)]  # perfectly separated
    labels = np.r_[np.ones(10), np.zeros(5)]
    value, std = bootstrap(lambda s, y: background_rejection(s, y, 0.3), scores, labels, n=20)
    assert value == math.inf and std == math.inf


def test_classification_table():
    scores, labels = _gaussian(500, 3)
    shifted = scores + 10.0  # a score that needs its own threshold
    table = classification_table(
        {"model": (1 / (1 + np.exp(-scores)), labels), "cut": (shifted, labels, 10.0 + 0.0)},
        n_bootstrap=20,
    )
    assert list(table.index) == ["model", "cut"]
    expected = ["accuracy", "auc", "rej@0.3", "rej@0.5"]
    for column in expected:
        assert column in table and f"{column} ±" in table
    assert table.loc["model", "auc"] == pytest.approx(auc(scores, labels))
    assert table.loc["cut", "auc"] == pytest.approx(auc(scores, labels))
    assert table.loc["cut", "accuracy"] == pytest.approx(accuracy(scores, labels, 0.0))
    assert table.loc["model", "rej@0.3"] == pytest.approx(background_rejection(scores, labels))
    assert (table[[f"{c} ±" for c in expected]] > 0).all().all()
    assert table.loc["model", "n_signal"] + table.loc["model", "n_background"] == 500
    with pytest.raises(ValueError, match="'broken'"):
        classification_table({"broken": (scores, labels[:-1])})
    with pytest.raises(ValueError, match="empty"):
        classification_table({})


def test_published_numbers_are_labelled_as_another_data_set():
    table = PUBLISHED_TOP_TAGGING
    assert table.loc["LorentzNet", "auc"] == 0.9868 and table.loc["LorentzNet", "rej@0.3"] == 2195
    assert table.loc["ParticleNet", "accuracy"] == 0.940 and table.loc["PFN", "rej@0.3"] == 888
    assert table.loc["MACE (lie-nn)", "auc"] == 0.987
    assert table["data set"].str.contains("not our generated jets").all()
    assert table["data set"].str.contains("Kasieczka").all()


def test_bad_input_is_reported():
    scores, labels = np.array([0.1, 0.5, 0.9]), np.array([0, 1, 1])
    with pytest.raises(ValueError, match="3 entries but labels 2"):
        auc(scores, labels[:2])
    with pytest.raises(ValueError, match=r"0 \(background\) or 1"):
        auc(scores, [0, 2, 1])
    with pytest.raises(ValueError, match=r"0 \(background\) or 1"):
        accuracy(scores, [0, 0.5, 1])
    with pytest.raises(ValueError, match="non-finite"):
        auc([0.1, np.nan, 0.9], labels)
    with pytest.raises(ValueError, match="only class 1"):
        roc_curve(scores, [1, 1, 1])
    with pytest.raises(ValueError, match="1-d"):
        auc(scores[:, None], labels)
    with pytest.raises(ValueError, match="empty"):
        auc([], [])
    with pytest.raises(TypeError, match="real numbers"):
        auc(np.array(["a", "b", "c"]), labels)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap(auc, scores, labels, n=1)
