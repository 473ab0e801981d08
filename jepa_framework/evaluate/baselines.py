"""Forecast baselines in observation space.

Every forecaster maps float contexts [B, C, *obs] and a number of steps to forecasts
[B, steps, *obs]. The supervised residual MLP gets the JEPA's budget or a multiple of it: every
training phase of the JEPA's forecaster in order (:mod:`~jepa_framework.evaluate.matched_budget`:
phase 1, then the refit when the recipe has one), each with its step plan, batch size, learning
rate, weight decay, gradient clipping and rollout length, through the same optimisation code
(:class:`~jepa_framework.pipeline.optim.Optimisation`), with batches drawn as the JEPA's clips
are -- but supervised in observation space. The recipe's own networks trained end to end are in
:mod:`~jepa_framework.evaluate.supervised`; the nothing-learned references a dataset declares in
:mod:`~jepa_framework.evaluate.references`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import torch
from torch import nn

from jepa_framework.core.seeds import derive_seed
from jepa_framework.core.threads import one_torch_thread
from jepa_framework.datasets.windows import gather_windows
from jepa_framework.evaluate.matched_budget import Budget
from jepa_framework.evaluate.ridge import Ridge
from jepa_framework.evaluate.supervised import Trained

Forecaster = Callable[[torch.Tensor, int], torch.Tensor]


def copy_last(context: torch.Tensor, steps: int) -> torch.Tensor:
    """Repeat the last context frame."""
    return context[:, -1:].expand(-1, steps, *context.shape[2:]).clone()


def constant_velocity(context: torch.Tensor, steps: int) -> torch.Tensor:
    """x_{t+h} = x_t + h (x_t - x_{t-1}); needs at least two context frames."""
    last, prev = context[:, -1:], context[:, -2:-1]
    h = torch.arange(1, steps + 1, dtype=context.dtype).view(1, steps, *[1] * (context.dim() - 2))
    return last + h * (last - prev)


def blank(context: torch.Tensor, steps: int) -> torch.Tensor:
    """An all-zero (background) frame: what a sparse frame's pixel MSE should be compared with."""
    return torch.zeros(context.shape[0], steps, *context.shape[2:])


def mean_frame(frame: torch.Tensor) -> Forecaster:
    """Always the mean training frame [*obs]."""
    return lambda context, steps: frame.expand(context.shape[0], steps, *frame.shape).clone()


def _windows(series: torch.Tensor, length: int, limit: int, seed: int) -> torch.Tensor:
    """Up to ``limit`` random windows [M, length, D] out of series [N, T, D]."""
    n, t = series.shape[:2]
    starts = t - length + 1
    pairs = torch.arange(n * starts)
    if len(pairs) > limit:
        pairs = pairs[torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))]
        pairs = pairs[:limit]
    return gather_windows(series, pairs // starts, pairs % starts, length)


class LinearAR:
    """Ridge on the stacked last ``order`` frames -> next frame, rolled out autoregressively.

    Exact (up to the tiny ridge penalty) on linear recurrences such as a circle at one speed.
    """

    def __init__(self, series: torch.Tensor, order: int, limit: int = 100_000, seed: int = 0):
        """Fit on training trajectories series [N, T, D] (T > order)."""
        self.order = order
        w = _windows(series.flatten(2), order + 1, limit, seed)
        self.ridge = Ridge.fit(w[:, :order].flatten(1), w[:, order], alpha=1e-8)

    def __call__(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        shape = context.shape[2:]
        frames = list(context.flatten(2)[:, -self.order :].unbind(1))
        out = []
        for _ in range(steps):
            nxt = self.ridge.predict(torch.stack(frames[-self.order :], 1).flatten(1))
            frames.append(nxt)
            out.append(nxt)
        return torch.stack(out, 1).view(context.shape[0], steps, *shape)


class ResidualMLP(nn.Module):
    """x_{t+1} = x_t + MLP(stacked last ``order`` frames), in standardised coordinates.

    Built with the care the JEPA's residual predictor gets: LayerNorm after each hidden layer and
    a last layer scaled by ``init_scale`` (bias zero), so the untrained model is near copy-last
    and long rollouts start stable.
    """

    def __init__(
        self,
        dim: int,
        order: int,
        hidden: int,
        mean: torch.Tensor,
        std: torch.Tensor,
        init_scale: float = 0.01,
    ):
        super().__init__()
        self.order = order
        self.net = nn.Sequential(
            nn.Linear(dim * order, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Linear(hidden, dim),
        )
        last = self.net[-1]
        with torch.no_grad():
            last.weight.mul_(init_scale)
            last.bias.zero_()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def unroll(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        """Standardised context [B, >=order, D] -> standardised forecasts [B, steps, D]."""
        frames = list(context[:, -self.order :].unbind(1))
        out = []
        for _ in range(steps):
            nxt = frames[-1] + self.net(torch.cat(frames[-self.order :], dim=1))
            frames.append(nxt)
            out.append(nxt)
        return torch.stack(out, 1)

    @torch.no_grad()
    def forward(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        self.eval()
        z = (context.flatten(2) - self.mean) / self.std
        return (self.unroll(z, steps) * self.std + self.mean).view(
            context.shape[0], steps, *context.shape[2:]
        )


def epoch_pairs(
    n: int, starts: int, batch_size: int, g: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless (trajectory, start) batches drawn as the JEPA's clips are: each epoch visits
    every one of ``n`` trajectories once, in a random order, each at a random start."""
    while True:
        for traj in torch.randperm(n, generator=g).split(batch_size):
            yield traj, torch.randint(0, starts, (len(traj),), generator=g)


@one_torch_thread()
def train_residual_mlp(
    series: torch.Tensor, order: int, budget: Budget, hidden: int, seed: int
) -> Trained:
    """Train on clips of training trajectories series [N, T, D] through every phase of
    ``budget`` in order (each its own optimiser, batch size and rollout length); see the
    module doc. ``seed`` fixes the initial weights and the batches."""
    started = time.perf_counter()
    series = series.flatten(2).float()
    mean = series.mean((0, 1))
    std = series.std((0, 1)).clamp_min(1e-6)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResidualMLP(series.shape[2], order, hidden, mean, std)
    g = torch.Generator().manual_seed(derive_seed(seed, "batches"))
    n, t = series.shape[:2]
    normed = (series - mean) / std
    epoch_losses: list[float] = []
    phases: list[dict] = []
    model.train()
    for phase in budget.phases:
        steps = max(1, min(phase.rollout_steps, t - order))
        batch = min(phase.batch_size, n)
        phases.append(phase.record(steps, batch))
        optimisation = phase.optimisation(list(model.parameters()))
        length = order + steps
        pairs = epoch_pairs(n, t - length + 1, batch, g)
        losses: list[float] = []
        for _ in range(phase.plan.total_steps):
            clips = gather_windows(normed, *next(pairs), length)
            loss = nn.functional.mse_loss(model.unroll(clips[:, :order], steps), clips[:, order:])
            optimisation.step(loss)
            losses.append(float(loss.detach()))
        per_epoch = max(1, phase.plan.steps_per_epoch)
        epoch_losses += [
            sum(losses[i : i + per_epoch]) / len(losses[i : i + per_epoch])
            for i in range(0, len(losses), per_epoch)
        ]
    return Trained.of(model, budget, started, epoch_losses, phases)
