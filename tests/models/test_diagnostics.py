"""Collapse diagnostics on embeddings with known rank."""

from __future__ import annotations

import math

import pytest
import torch

from jepa_framework.models.diagnostics import collapse_diagnostics, latent_spectrum, rankme


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


def _balanced(scales: list[float], dim: int = 16) -> torch.Tensor:
    """Latents [4 k, dim] along k orthonormal directions, +-scale on each: centred, with
    singular values proportional to the scales."""
    g = torch.Generator().manual_seed(3)
    basis = torch.linalg.qr(torch.randn(dim, len(scales), generator=g)).Q.T  # [k, dim]
    rows = [sign * s * basis[i] for i, s in enumerate(scales) for sign in (1.0, -1.0)]
    return torch.stack(rows * 2)


def test_two_equal_directions_have_effective_rank_two_and_collapse_a_four_dimensional_state():
    spectrum = latent_spectrum(_balanced([1.0, 1.0]), state_dim=4)
    assert spectrum["participation_ratio"] == pytest.approx(2.0, abs=1e-5)
    assert spectrum["rankme"] == pytest.approx(2.0, abs=1e-3)
    assert spectrum["singular_values"][:2] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert max(spectrum["singular_values"][2:]) < 1e-5
    assert spectrum["top_k_variance"] == pytest.approx({"1": 0.5, "2": 1.0, "4": 1.0, "8": 1.0})
    assert spectrum["dimensional_collapse"] is True
    assert latent_spectrum(_balanced([1.0, 1.0]), state_dim=2)["dimensional_collapse"] is False


def test_an_uneven_spectrum_weighs_directions_by_their_variance():
    spectrum = latent_spectrum(_balanced([2.0, 1.0]), state_dim=2)
    assert spectrum["singular_values"][:2] == pytest.approx([1.0, 0.5], abs=1e-5)
    assert spectrum["participation_ratio"] == pytest.approx(25 / 17, abs=1e-5)  # (4+1)^2/(16+1)
    p = torch.tensor([2 / 3, 1 / 3])
    assert spectrum["rankme"] == pytest.approx(float(torch.exp(-(p * p.log()).sum())), abs=1e-3)
    assert spectrum["top_k_variance"]["1"] == pytest.approx(0.8, abs=1e-5)
    assert spectrum["dimensional_collapse"] is True  # RankMe 1.89 < 2


def test_too_few_samples_are_not_judged_and_non_finite_latents_are_flagged():
    few = latent_spectrum(torch.randn(3, 16, generator=torch.Generator().manual_seed(0)), 4)
    assert few["dimensional_collapse"] is False  # 3 samples span at most 2 directions
    bad = torch.ones(64, 8)
    bad[0, 0] = math.nan
    spectrum = latent_spectrum(bad, state_dim=4)
    assert math.isnan(spectrum["rankme"]) and spectrum["dimensional_collapse"] is True
