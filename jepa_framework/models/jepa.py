"""The JEPA module: online encoder, target encoder and one latent rollout used everywhere."""

from __future__ import annotations

import copy

import torch
from torch import nn

from jepa_framework.core.errors import JepaError
from jepa_framework.models.framewise import frame_wise, sliding_latents


class JEPA(nn.Module):
    """Encoder + predictor, with a target encoder that is an EMA copy or the online one.

    ``history`` is the number of frames per context window (H): the model owns it, so every
    caller that cuts windows for it (training, probes, forecasts) asks the model.
    ``target_kind == "ema"``: a frozen copy updated by :meth:`update_target`.
    ``target_kind == "online"``: the online encoder under stop-gradient (SimSiam style).
    """

    def __init__(
        self, encoder: nn.Module, predictor: nn.Module, target_kind: str, history: int
    ) -> None:
        super().__init__()
        if target_kind not in {"ema", "online"}:
            raise ValueError(f"target_kind must be 'ema' or 'online', got {target_kind!r}")
        if history < 1:
            raise ValueError(f"history must be at least 1, got {history}")
        self.history = history
        self.encoder = encoder
        self.predictor = predictor
        self.target_kind = target_kind
        self.target_encoder = copy.deepcopy(encoder) if target_kind == "ema" else None
        if self.target_encoder is not None:
            self.target_encoder.requires_grad_(False)
        #: the head of objective.inverse_dynamics, trained with phase 1 (None: no such term)
        self.inverse_dynamics: nn.Module | None = None

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """[B, H, *obs] -> [B, D] with the online encoder."""
        return self.encoder(windows)

    def encode_context(self, frames: torch.Tensor) -> torch.Tensor:
        """The last ``history`` frames of frames [B, >= H, *obs] -> [B, D]."""
        return self.encoder(frames[:, -self.history :])

    def split_windows(self, clips: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips [B, H + K, *obs] -> context [B, H, *obs], targets [K, B, H, *obs]."""
        return split_windows(clips, self.history, steps)

    @torch.no_grad()
    def encode_target(self, windows: torch.Tensor) -> torch.Tensor:
        """[B, H, *obs] -> [B, D] with the target encoder, never carrying gradient."""
        return self._target()(windows).detach()

    @torch.no_grad()
    def encode_targets(self, clips: torch.Tensor, steps: int) -> torch.Tensor:
        """The K target windows of clips [B, H + K, *obs] -> [K, B, D], never carrying gradient.

        A frame-wise target encoder sees each of the H + K - 1 target frames once rather than
        once per window it is in.
        """
        encoder, b = self._target(), len(clips)
        if frame_wise(encoder):
            later = clips[:, 1 : self.history + steps]
            features = encoder.encode_frames(later.flatten(0, 1)).view(b, later.shape[1], -1)
            z = sliding_latents(encoder, features, self.history)  # [B, K, D]
            return z.movedim(1, 0).detach()
        _, targets = self.split_windows(clips, steps)
        return self.encode_target(targets.flatten(0, 1)).view(steps, b, -1)

    def _target(self) -> nn.Module:
        """The EMA copy, or the online encoder where targets come from it under stop-gradient."""
        return self.target_encoder if self.target_encoder is not None else self.encoder

    @property
    def action_dim(self) -> int:
        """Width of the actions the predictor conditions on; 0 for an autonomous predictor."""
        return action_dim_of(self.predictor)

    def rollout(
        self, z: torch.Tensor, steps: int, actions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Apply the predictor ``steps`` times from z [B, D]; returns [steps, B, D].

        Serves training (k-step loss), evaluation (probes k steps ahead), forecasting and
        planning. An action-conditioned predictor takes ``actions`` [B, steps, A] (step k
        applies ``actions[:, k]``, z_t, a_t -> z_t+1); an autonomous one takes none.
        """
        if actions is None and self.action_dim:
            raise JepaError(
                f"this model's predictor conditions on actions ({self.action_dim} per step), "
                "and what called its rollout gave none: the forecast evaluation (`jepa eval`, "
                "eval.enabled) does not pass actions yet. Evaluate an action-conditioned run "
                "with `jepa plan RUN_DIR`, and set eval.enabled=false in its recipe."
            )
        if actions is not None and not self.action_dim:
            raise JepaError(
                "this model's predictor is autonomous (it takes no actions), but its rollout "
                f"was given actions of shape {list(actions.shape)}; pass none."
            )
        if actions is not None and tuple(actions.shape) != (len(z), steps, self.action_dim):
            raise JepaError(
                f"rollout of {steps} steps from {len(z)} latents needs actions "
                f"[{len(z)}, {steps}, {self.action_dim}], got {list(actions.shape)}"
            )
        return unroll(self.predictor, z, steps, actions)

    @torch.no_grad()
    def update_target(self, decay: float) -> None:
        """target <- decay * target + (1 - decay) * online (no-op for stop-gradient targets)."""
        if self.target_encoder is None:
            return
        online = list(self.encoder.parameters())
        target = list(self.target_encoder.parameters())
        torch._foreach_lerp_(target, online, 1.0 - decay)
        for t_buf, o_buf in zip(self.target_encoder.buffers(), self.encoder.buffers(), strict=True):
            t_buf.copy_(o_buf)


class StandardisedPredictor(nn.Module):
    """A predictor that steps standardised latents: z -> p((z - mean) / std) * std + mean.

    With the identity statistics it starts from, it computes exactly what the plain predictor
    does, so phase 1 is unchanged; the refit phase sets the statistics of the final encoder's
    latents. Rolling out through it is rolling out in standardised coordinates.
    """

    def __init__(self, predictor: nn.Module, dim: int) -> None:
        super().__init__()
        self.predictor = predictor
        self.action_dim = action_dim_of(predictor)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def forward(self, z: torch.Tensor, *actions: torch.Tensor) -> torch.Tensor:
        return self.predictor((z - self.mean) / self.std, *actions) * self.std + self.mean

    @torch.no_grad()
    def standardise_by(self, latents: torch.Tensor) -> torch.Tensor:
        """Adopt the per-dimension statistics of ``latents`` [..., D]; returns them standardised.

        The std is floored, so a dead dimension stays at zero instead of dividing by it.
        """
        flat = latents.flatten(0, -2)
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0).clamp_min(1e-6))
        return self.standardise(latents)

    def standardise(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents [..., D] in the coordinates the predictor steps."""
        return (latents.to(self.mean.device) - self.mean) / self.std


def action_dim_of(predictor: nn.Module) -> int:
    """The ``action_dim`` an action-conditioned predictor declares (0: autonomous)."""
    return int(getattr(predictor, "action_dim", 0) or 0)


def unroll(
    step: nn.Module, z: torch.Tensor, steps: int, actions: torch.Tensor | None = None
) -> torch.Tensor:
    """Apply ``step`` ``steps`` times from z [B, D] (with ``actions[:, k]`` at step k, when
    given as [B, steps, A]); returns [steps, B, D]."""
    out = []
    for k in range(steps):
        z = step(z) if actions is None else step(z, actions[:, k])
        out.append(z)
    return torch.stack(out)


def split_windows(
    clips: torch.Tensor, history: int, steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips [B, H + K, *obs] -> context [B, H, *obs] and target windows [K, B, H, *obs].

    The target window for step k starts k frames after the context window.
    """
    context = clips[:, :history]
    targets = torch.stack([clips[:, k : k + history] for k in range(1, steps + 1)])
    return context, targets
