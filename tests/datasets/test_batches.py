"""Training clips: windows cut the right frames, an epoch visits every trajectory once, and
ranks partition a batch."""

from __future__ import annotations

import pytest
import torch

from jepa_framework.core.seeds import derive_seed
from jepa_framework.datasets.batches import Clips
from jepa_framework.datasets.windows import every_window, gather_windows


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
