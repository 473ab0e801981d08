"""What the core expects from each kind of component (the shapes that cross plugin boundaries)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import attrs
import torch


@attrs.frozen
class Shapes:
    """Sizes a network factory needs: one observation, frames per window, latent width, and
    the width of the dataset's actions (0: the data has none)."""

    obs_shape: tuple[int, ...]
    history: int
    embedding_dim: int
    action_dim: int = 0


# Network factories: ``factory(params, shapes: Shapes) -> torch.nn.Module`` with
#   encoder:   [B, H, *obs_shape] float -> [B, D]
#   predictor: [B, D] -> [B, D]             (one step forward in latent space)
#              or, declaring ``action_dim = A > 0`` (an int attribute), [B, D], [B, A] -> [B, D]:
#              action-conditioned, z_t and the action a_t between frame t and t+1 -> z_t+1
#   decoder:   [B, D] -> [B, *obs_shape]    (the last frame of the encoded window)
# jepa_framework.pipeline.assemble checks these shapes on a zero batch before any training.


@runtime_checkable
class Regularizer(Protocol):
    """An objective on latent predictions.

    ``target`` says where targets come from: ``"ema"`` (an EMA copy of the encoder) or
    ``"online"`` (the online encoder under stop-gradient, as SimSiam does).
    """

    target: str

    def __call__(
        self, predictions: torch.Tensor, targets: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """predictions, targets: [K, B, D] (rollout step k); context: [B, D] online embeddings.

        Returns the scalar loss and its named terms (detached or not) for logging.
        """
        ...


@runtime_checkable
class Tracker(Protocol):
    """Receives everything a run logs; built from the recipe's ``tracking`` list."""

    def start(self, run: Any) -> None: ...

    def log(self, scalars: dict[str, float], step: int) -> None: ...

    def finish(self, run: Any, metrics: dict[str, Any]) -> None:
        """``metrics`` is metrics.json, or ``{"failed": True, "error": ...}`` if the run failed.

        The ``on_run_end`` hook receives the same dictionary right after every tracker's
        ``finish``, so both observer channels learn of a failure the same way. Exceptions from
        any tracker method are logged as warnings and never stop a run.
        """
        ...
