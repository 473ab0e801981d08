"""Context and target windows, and the decoder phase keeping the encoder frozen."""

from __future__ import annotations

import torch

from jepa_framework.models.jepa import split_windows


def test_windows_k_steps_later_are_the_targets():
    clips = torch.arange(2 * 6).float().view(2, 6)  # frames are numbered
    context, targets = split_windows(clips, history=2, steps=3)
    assert context.tolist() == [[0, 1], [6, 7]]
    assert targets[0].tolist() == [[1, 2], [7, 8]]
    assert targets[2].tolist() == [[3, 4], [9, 10]]


def test_the_decoder_phase_keeps_the_encoder_in_eval_mode():
    from torch import nn

    from jepa_framework.models.jepa import JEPA
    from jepa_framework.pipeline.training import DecoderObjective

    encoder = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(4))
    model = JEPA(encoder, nn.Identity(), "ema", history=2)
    objective = DecoderObjective(model, nn.Linear(4, 2)).train()
    assert objective.decoder.training and not model.encoder.training
    before = encoder[1].running_mean.clone()
    objective(torch.randn(8, 2, 2) + 5.0)
    assert torch.equal(encoder[1].running_mean, before)  # frozen latents, frozen statistics
