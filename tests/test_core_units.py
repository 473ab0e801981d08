"""Unit tests of the core's moving parts: EMA target update, latent rollout, training clips."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from jepa_framework.batches import Clips
from jepa_framework.model import JEPA
from jepa_framework.seeds import derive_seed
from jepa_framework.windows import every_window, gather_windows


def _jepa(target: str = "ema") -> JEPA:
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.BatchNorm1d(3))
    return JEPA(encoder, nn.Linear(3, 3), target, history=2)


# --- EMA --------------------------------------------------------------------------------------


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


# --- rollout ----------------------------------------------------------------------------------


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
    from jepa_framework.framewise import frame_wise

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


# --- windows and clips ------------------------------------------------------------------------


def test_gather_windows_and_every_window_cut_the_right_frames():
    source = torch.arange(3 * 6).view(3, 6)  # trajectory t, frame f -> 6 t + f
    out = gather_windows(source, torch.tensor([2, 0]), torch.tensor([1, 3]), 3)
    assert out.tolist() == [[13, 14, 15], [3, 4, 5]]
    every = every_window(source, 4)
    assert every.shape == (3, 3, 4) and every[1, 2].tolist() == [8, 9, 10, 11]


@pytest.fixture(scope="module")
def circles(tmp_path_factory):
    from jepa_builtins.datasets.curves import CircleDataset, CircleParams

    return CircleDataset(
        CircleParams(size=23, sequence_length=9), cache_dir=tmp_path_factory.mktemp("c")
    )


def _clips(dataset, indices, batch, rank=0, world=1, seed=0) -> Clips:
    g = torch.Generator().manual_seed(seed)
    return Clips(dataset, indices, 4, batch, torch.device("cpu"), g, rank, world)


def test_one_epoch_visits_every_trajectory_once_with_the_right_frames(circles):
    indices = torch.tensor([0, 2, 3, 5, 7, 11, 13, 17, 19, 22])
    clips = _clips(circles, indices, batch=4)
    assert len(clips) == 3
    seen = []
    for traj, starts in clips.pairs():
        assert len(traj) <= 4 and bool((starts <= 9 - 4).all())
        batch = clips.gather(traj, starts)
        for i in range(len(traj)):
            s = int(starts[i])
            torch.testing.assert_close(batch[i], circles.observations[traj[i], s : s + 4])
        seen.extend(traj.tolist())
    assert sorted(seen) == indices.tolist()
    second = [t for traj, _ in clips.pairs() for t in traj.tolist()]
    assert sorted(second) == indices.tolist()  # and again in the next epoch


def test_ranks_slices_partition_the_global_batch(circles):
    indices = torch.arange(23)
    world = 3
    single = list(_clips(circles, indices, batch=8).pairs())
    ranks = [list(_clips(circles, indices, 8, rank=r, world=world).pairs()) for r in range(world)]
    for b, (traj, starts) in enumerate(single):
        usable = len(traj) - len(traj) % world  # a remainder that cannot split evenly is dropped
        parts = [ranks[r][b] for r in range(world)]
        assert all(len(p[0]) == usable // world for p in parts)
        assert torch.equal(torch.cat([p[0] for p in parts]), traj[:usable])
        assert torch.equal(torch.cat([p[1] for p in parts]), starts[:usable])
    # over an epoch the ranks together visit each trajectory at most once, all but remainders
    visited = torch.cat([p[0] for r in range(world) for p in ranks[r]]).tolist()
    assert len(visited) == len(set(visited)) >= len(indices) - world * len(single)


def test_fixed_batches_are_the_same_every_call_and_sharded(circles):
    clips = _clips(circles, torch.arange(23), batch=8)
    seed = derive_seed(0, "validation")
    assert torch.equal(clips.fixed_batch(10, seed), clips.fixed_batch(10, seed))
    halves = [_clips(circles, torch.arange(23), 8, r, 2).fixed_batch(10, seed) for r in (0, 1)]
    assert torch.equal(torch.cat(halves), clips.fixed_batch(10, seed))


def test_derived_seeds_are_stable_and_distinct_per_purpose():
    assert derive_seed(0, "validation") == derive_seed(0, "validation")
    seeds = {derive_seed(s, p) for s in (0, 1) for p in ("validation", "forecast_video", "x")}
    assert len(seeds) == 6 and all(0 <= s < 2**63 for s in seeds)
