"""Collapse diagnostics on embeddings with known rank."""

from __future__ import annotations

import math

import pytest
import torch

from jepa_framework.models.diagnostics import collapse_diagnostics, rankme


def test_constant_embeddings_have_rank_one_and_are_flagged():
    z = torch.ones(256, 16) * 3.0
    diag = collapse_diagnostics(z)
    assert diag["rankme"] == pytest.approx(1.0, abs=0.01)
    assert diag["dead_fraction"] == 1.0
    assert diag["std_mean"] == pytest.approx(0.01)  # sqrt(0 + 1e-4)
    assert diag["collapsed"] == 1.0


def test_isotropic_gaussian_embeddings_have_near_full_rank():
    z = torch.randn(4096, 16, generator=torch.Generator().manual_seed(0))
    diag = collapse_diagnostics(z)
    assert diag["rankme"] > 15.0
    assert diag["normalised_std"] == pytest.approx(1 / math.sqrt(16), rel=0.05)
    assert diag["dead_fraction"] == 0.0
    assert diag["collapsed"] == 0.0


def test_rank_of_a_rank_two_batch_is_about_two():
    g = torch.Generator().manual_seed(1)
    basis = torch.linalg.qr(torch.randn(16, 2, generator=g)).Q.T  # two orthonormal directions
    z = torch.randn(2048, 2, generator=g) @ basis
    assert rankme(z) == pytest.approx(2.0, abs=0.1)
