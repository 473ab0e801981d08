"""Linear probes from frozen latents to the true state, now and k predicted steps ahead.

The probe is a ridge regression fitted on windows of training trajectories and scored on fresh
held-out trajectories (split by trajectory, never by frame), over the training sequence length
so that both come from the same distribution. Its penalty is chosen per probe on validation
trajectories (:mod:`jepa_framework.evaluate.probe_penalty`). Targets come from
``dataset.probe_targets`` (sin and cos of angles rather than raw angles). A randomly
initialised encoder probed the same way is the control: what training adds over random features;
with a predictor trained on its latents (:mod:`jepa_framework.evaluate.controls`) it also gets
the R²-over-k curve.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import torch
from torch import nn

from jepa_framework.core.seeds import derive_seed
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.windows import gather_windows, pick_starts
from jepa_framework.evaluate.probe_penalty import PenaltyChoice, choose_penalty
from jepa_framework.evaluate.ridge import Ridge, r2_scores
from jepa_framework.evaluate.validation import validation_trajectories
from jepa_framework.models.diagnostics import latent_spectrum
from jepa_framework.models.encoding import encode_stored
from jepa_framework.models.jepa import JEPA

log = logging.getLogger("jepa_framework")


@attrs.frozen
class ProbeSet:
    """Stored clips [M, H + K, *stored] and their probe targets [M, H + K, P]."""

    clips: torch.Tensor
    targets: torch.Tensor


def probe_set(
    dataset: DynamicsDataset,
    observations: torch.Tensor,
    states: torch.Tensor,
    length: int,
    count: int,
    seed: int,
    traj: torch.Tensor | None = None,
) -> ProbeSet:
    """Up to ``count`` clips of ``length`` frames from stored observations [N, T, *stored], of
    trajectories ``traj`` (default all): only the clips are gathered, never every trajectory,
    so a memory-mapped dataset stays on disk."""
    n_starts = observations.shape[1] - length + 1
    traj = torch.arange(observations.shape[0]) if traj is None else traj
    t, s = pick_starts(traj, n_starts, count, seed)
    targets, _ = dataset.probe_targets(gather_windows(states, t, s, length))
    return ProbeSet(gather_windows(observations, t, s, length), targets)


def validation_windows(
    dataset: DynamicsDataset, n: int, context: int, history: int, seed: int
) -> ProbeSet:
    """The last context window of ``n`` validation trajectories and its targets: where every
    forecast starts reading, so the penalty suits the state the forecast starts from."""
    stored, states = validation_trajectories(dataset, n, context, seed)
    targets, _ = dataset.probe_targets(states[:, context - history :])
    return ProbeSet(stored[:, context - history :], targets)


def fit_probe(
    encoder: nn.Module,
    dataset: DynamicsDataset,
    train: ProbeSet,
    validation: ProbeSet,
    history: int,
    device,
) -> tuple[PenaltyChoice, torch.Tensor]:
    """Ridge from latents of the training windows to the target at each window's last frame,
    its penalty chosen on the ``validation`` windows; also the training latents [M, D]."""
    z = encode_stored(encoder, dataset, train.clips[:, :history], device)
    z_val = encode_stored(encoder, dataset, validation.clips[:, :history], device)
    y, y_val = train.targets[:, history - 1], validation.targets[:, history - 1]
    return choose_penalty(z, y, z_val, y_val), z


@attrs.frozen
class Probes:
    """The fitted probes: of the trained encoder, and of the randomly initialised one."""

    jepa: Ridge
    random_encoder: Ridge
    #: how the JEPA's probe was chosen, to refit it at other penalties (None: given as it is)
    jepa_penalty: PenaltyChoice | None = None


@torch.no_grad()
def probe_ahead(
    model: JEPA, probe: Ridge, dataset: DynamicsDataset, test: ProbeSet, device
) -> torch.Tensor:
    """R² [K + 1, P] of the probe on latents predicted k = 0..K steps ahead of each context.

    k = 0 is the encoder's own latent; k > 0 applies ``model.rollout`` k times.
    """
    history = model.history
    steps = test.clips.shape[1] - history
    z0 = encode_stored(model.encoder, dataset, test.clips[:, :history], device)
    latents = [z0]
    if steps > 0:
        model.eval()
        rolled = model.rollout(z0.to(device), steps).float().cpu()  # [K, M, D]
        latents.extend(rolled.unbind(0))
    return torch.stack(
        [
            r2_scores(probe.predict(z), test.targets[:, history - 1 + k])
            for k, z in enumerate(latents)
        ]
    )


def _ahead_report(ahead: torch.Tensor, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "k": list(range(ahead.shape[0])),
        "r2_mean": ahead.mean(1).tolist(),
        "r2": {name: ahead[:, i].tolist() for i, name in enumerate(names)},
    }


def probe_study(
    model: JEPA,
    random_encoder: nn.Module,
    dataset: DynamicsDataset,
    train_idx: torch.Tensor,
    test: tuple[torch.Tensor, torch.Tensor],
    probe_steps: int,
    samples: int,
    seed: int,
    device: torch.device,
    control: JEPA | None = None,
    *,
    validation_seed: int,
    context: int | None = None,
) -> tuple[dict[str, Any], Probes]:
    """Probe R² per variable (trained and random encoder), the R²-over-k curve and the spectrum
    of the JEPA's latents.

    Fitted on windows of the training trajectories ``train_idx``, each probe's penalty chosen
    on the last ``context``-frame window (default ``history``) of as many validation
    trajectories (``validation_seed``) as ``test`` holds; scored on ``test`` (stored
    observations [N, T, *stored], states [N, T, S]) of held-out trajectories. ``control`` (the
    random encoder with a trained predictor) adds the random encoder's R²-over-k curve. Returns
    the JSON-ready report and the fitted probes (reused to read rolled-out latents).
    """
    history = model.history
    context = history if context is None else context
    frames = test[0].shape[1]
    # at most half the frames ahead, so every trajectory still offers several contexts
    steps = max(0, min(probe_steps, (frames - history) // 2))
    _, names = dataset.probe_targets(dataset.states[:1, :1])
    train = probe_set(
        dataset, dataset.observations, dataset.states, history, samples, seed, traj=train_idx
    )
    test_set = probe_set(dataset, *test, history + steps, samples, derive_seed(seed, "probe_test"))
    validation = validation_windows(dataset, len(test[0]), context, history, validation_seed)
    penalty, z_train = fit_probe(model.encoder, dataset, train, validation, history, device)
    probe = penalty.ridge
    spectrum = latent_spectrum(z_train, dataset.state_dim)
    if spectrum["dimensional_collapse"]:
        log.warning(
            "dimensional collapse: the latents of the training windows have effective rank "
            "(RankMe) %.2f, below the state's %d dimensions",
            spectrum["rankme"],
            dataset.state_dim,
        )
    ahead = probe_ahead(model, probe, dataset, test_set, device)  # [K + 1, P]
    random_penalty, _ = fit_probe(random_encoder, dataset, train, validation, history, device)
    random_probe = random_penalty.ridge
    z_random = encode_stored(random_encoder, dataset, test_set.clips[:, :history], device)
    random_r2 = r2_scores(random_probe.predict(z_random), test_set.targets[:, history - 1])
    random_report: dict[str, Any] = {
        "r2": dict(zip(names, random_r2.tolist(), strict=True)),
        "r2_mean": float(random_r2.mean()),
        "penalty": random_penalty.record(),
    }
    if control is not None:
        control_ahead = probe_ahead(control, random_probe, dataset, test_set, device)
        random_report["ahead"] = _ahead_report(control_ahead, names)
    report = {
        "names": list(names),
        "train_windows": len(train.clips),
        "test_windows": len(test_set.clips),
        "r2": dict(zip(names, ahead[0].tolist(), strict=True)),
        "r2_mean": float(ahead[0].mean()),
        "penalty": penalty.record(),
        "spectrum": spectrum,
        "random_encoder": random_report,
        "ahead": _ahead_report(ahead, names),
    }
    return report, Probes(probe, random_probe, penalty)
