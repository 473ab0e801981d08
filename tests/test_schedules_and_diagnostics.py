"""Schedules and collapse diagnostics on inputs with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from jepa_framework.diagnostics import collapse_diagnostics, rankme
from jepa_framework.model import split_windows
from jepa_framework.schedules import ema_decay, warmup_cosine


def test_warmup_then_cosine_to_zero():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10) == pytest.approx(0.0)


def test_ema_decay_follows_a_cosine_from_start_to_end():
    assert ema_decay(0, 100, 0.99, 1.0) == pytest.approx(0.99)
    assert ema_decay(50, 100, 0.99, 1.0) == pytest.approx(0.995)
    assert ema_decay(100, 100, 0.99, 1.0) == pytest.approx(1.0)


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


def test_windows_k_steps_later_are_the_targets():
    clips = torch.arange(2 * 6).float().view(2, 6)  # frames are numbered
    context, targets = split_windows(clips, history=2, steps=3)
    assert context.tolist() == [[0, 1], [6, 7]]
    assert targets[0].tolist() == [[1, 2], [7, 8]]
    assert targets[2].tolist() == [[3, 4], [9, 10]]


def test_the_decoder_phase_keeps_the_encoder_in_eval_mode():
    from torch import nn

    from jepa_framework.model import JEPA
    from jepa_framework.training import DecoderObjective

    encoder = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(4))
    model = JEPA(encoder, nn.Identity(), "ema", history=2)
    objective = DecoderObjective(model, nn.Linear(4, 2)).train()
    assert objective.decoder.training and not model.encoder.training
    before = encoder[1].running_mean.clone()
    objective(torch.randn(8, 2, 2) + 5.0)
    assert torch.equal(encoder[1].running_mean, before)  # frozen latents, frozen statistics
