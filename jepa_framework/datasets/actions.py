"""What a dataset's actions are: a bounded box of ``dim`` numbers per step.

A dataset of an environment driven by an agent declares its :class:`ActionSpace`
(``dataset.action_space``); autonomous datasets declare none. Actions are stored beside the
observations as ``actions`` [N, T, A]: row t is the action applied between frame t and t+1, so
the last row of every trajectory is padding that no transition uses. The bounds travel with the
trained run, so a planner samples only actions the data could have held.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch


def _bounds(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1))


@attrs.frozen
class ActionSpace:
    """Continuous actions in the box ``[low, high]`` (one bound per dimension, finite)."""

    low: tuple[float, ...] = attrs.field(converter=_bounds)
    high: tuple[float, ...] = attrs.field(converter=_bounds)
    #: a name per dimension (for plots and tables); empty where a dataset gives none
    names: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if not self.low or len(self.low) != len(self.high):
            raise ValueError(f"action bounds {self.low} and {self.high} differ in size")
        if not all(np.isfinite(self.low + self.high)) or any(
            lo > hi for lo, hi in zip(self.low, self.high, strict=True)
        ):
            raise ValueError(f"action bounds must be finite with low <= high: {self}")

    @classmethod
    def of_box(cls, box: Any) -> ActionSpace:
        """From anything with ``low`` and ``high`` arrays (a ``gymnasium.spaces.Box``)."""
        return cls(low=box.low, high=box.high)

    @property
    def dim(self) -> int:
        return len(self.low)

    def bounds(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """``low`` and ``high`` as float32 tensors [A] on ``device``."""
        low = torch.tensor(self.low, dtype=torch.float32, device=device)
        return low, torch.tensor(self.high, dtype=torch.float32, device=device)

    def to_dict(self) -> dict[str, Any]:
        return {"dim": self.dim, "low": list(self.low), "high": list(self.high)}
