"""The JEPA module: EMA target update, stop-gradient targets, rollout, frame-wise encoding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from jepa_framework.models.jepa import JEPA


def _jepa(target: str = "ema") -> JEPA:
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.BatchNorm1d(3))
    return JEPA(encoder, nn.Linear(3, 3), target, history=2)


def test_the_ema_target_moves_by_one_minus_decay_towards_the_online_encoder():
    model = _jepa()
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.fill_(1.0)
        for p in model.target_encoder.parameters():
            p.fill_(0.0)
        model.encoder[2].running_mean.fill_(5.0)
    model.update_target(0.9)
    for p in model.target_encoder.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.1))
    # buffers (batch-norm statistics) are copied, not averaged
    torch.testing.assert_close(model.target_encoder[2].running_mean, torch.full((3,), 5.0))
    model.update_target(1.0)  # decay 1 keeps the target as it is
    for p in model.target_encoder.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.1))


def test_the_target_never_receives_gradient_and_stop_gradient_targets_are_the_encoder():
    model = _jepa()
    assert not any(p.requires_grad for p in model.target_encoder.parameters())
    windows = torch.randn(5, 2, 2)
    assert not model.encode_target(windows).requires_grad
    online = _jepa("online")
    assert online.target_encoder is None
    online.eval()
    torch.testing.assert_close(online.encode_target(windows), online.encode(windows).detach())
    before = [p.clone() for p in online.encoder.parameters()]
    online.update_target(0.5)  # a no-op without an EMA copy
    assert all(torch.equal(a, b) for a, b in zip(before, online.encoder.parameters(), strict=True))


def test_rollout_applies_the_predictor_step_by_step():
    model = _jepa()
    with torch.no_grad():
        model.predictor.weight.copy_(2.0 * torch.eye(3))
        model.predictor.bias.zero_()
    z = torch.randn(4, 3, requires_grad=True)
    out = model.rollout(z, 3)
    assert out.shape == (3, 4, 3)
    for k in range(3):
        torch.testing.assert_close(out[k], z * 2.0 ** (k + 1))
    out.sum().backward()  # the rollout is differentiable through every step
    torch.testing.assert_close(z.grad, torch.full_like(z, 2.0 + 4.0 + 8.0))


def test_the_model_cuts_context_and_targets_by_its_own_history():
    model = _jepa()
    clips = torch.arange(2 * 5).float().view(2, 5)
    context, targets = model.split_windows(clips, steps=3)
    assert context.tolist() == [[0, 1], [5, 6]]
    assert targets.shape == (3, 2, 2) and targets[2].tolist() == [[3, 4], [8, 9]]


class _FrameCodes(nn.Module):
    """A frame-wise encoder: a linear code per frame, then a linear map of the window's codes."""

    def __init__(self, history: int) -> None:
        super().__init__()
        self.frame, self.window = nn.Linear(2, 3), nn.Linear(3 * history, 4)
        self.frames_seen = 0

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        self.frames_seen += len(frames)
        return self.frame(frames)

    def combine_frames(self, features: torch.Tensor) -> torch.Tensor:
        return self.window(features.flatten(1))

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        b, h = window.shape[:2]
        return self.combine_frames(self.encode_frames(window.flatten(0, 1)).view(b, h, -1))


@pytest.mark.parametrize("target", ["ema", "online"])
def test_a_frame_wise_target_encoder_sees_each_target_frame_once_with_the_same_targets(target):
    model = JEPA(_FrameCodes(history=3), nn.Linear(4, 4), target, history=3)
    encoder = model.target_encoder if target == "ema" else model.encoder
    clips = torch.randn(5, 3 + 4, 2)  # history 3, 4 steps: 6 target frames in 4 windows of 3
    targets = model.encode_targets(clips, steps=4)
    assert encoder.frames_seen == 5 * 6 and not targets.requires_grad
    _, windows = model.split_windows(clips, steps=4)
    expected = torch.stack([encoder(w) for w in windows])  # [K, B, D], one window at a time
    torch.testing.assert_close(targets, expected)


def test_an_encoder_compiled_in_place_takes_the_whole_window_path():
    from jepa_framework.models.framewise import frame_wise

    encoder = _FrameCodes(history=2)
    assert frame_wise(encoder)
    encoder.compile()  # train.compile: only forward is compiled, so windows go through it
    assert not frame_wise(encoder)
    assert not frame_wise(nn.Linear(2, 3))


def test_window_encoders_get_every_target_window_whole():
    model = _jepa().eval()
    clips = torch.randn(5, 2 + 3, 2)
    _, windows = model.split_windows(clips, steps=3)
    expected = torch.stack([model.encode_target(w) for w in windows])
    torch.testing.assert_close(model.encode_targets(clips, steps=3), expected)
