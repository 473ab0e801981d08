"""What a dataset's observations are: their kind, shape and what their numbers mean.

A dataset describes its observations with an :class:`ObservationSpace`
(``dataset.observation_space``), so no part of the core has to guess from tensor shapes. This
module only describes; it decides nothing about evaluation. How forecasts of each kind are
scored, summarised, plotted and compared with baselines is the evaluation layer's choice
(:mod:`jepa_framework.evaluate.spaces`), looked up by :attr:`ObservationSpace.kind`.

The core describes two kinds: :class:`VectorObservations` (coordinates) and
:class:`ImageObservations` (frames). A plugin with a new kind returns its own descriptor with a
new ``kind`` that also implements :class:`jepa_framework.evaluate.scoring.Scoring` (a plugin sits
above every core layer, so it may import the evaluation); the core needs no change.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn, Protocol, runtime_checkable

import attrs


@runtime_checkable
class ObservationSpace(Protocol):
    """The one thing every kind of observation says: its ``kind`` (written to eval.json)."""

    kind: str


@attrs.frozen
class VectorObservations:
    """Coordinates: one float vector [F] per frame, e.g. 2-D points (x1, y1, x2, y2, ...).

    ``dims`` names each coordinate (for plots and tables); empty where a dataset gives none.
    """

    kind: ClassVar[str] = "vector"
    dims: tuple[str, ...] = ()


@attrs.frozen
class ImageObservations:
    """Frames [C, H, W] as floats in [0, 1] (after ``dataset.to_float``).

    ``shape`` is (C, H, W); empty where a dataset gives none.
    """

    kind: ClassVar[str] = "image"
    shape: tuple[int, ...] = ()
    value_range: tuple[float, float] = (0.0, 1.0)


#: names this module exported before evaluation policy moved to the evaluation layer
MOVED = {
    "BaselineInputs": "jepa_framework.evaluate.baseline_inputs",
    "Curves": "jepa_framework.evaluate.scoring",
    "Group": "jepa_framework.evaluate.scoring",
    "Panel": "jepa_framework.evaluate.scoring",
    "VptFn": "jepa_framework.evaluate.scoring",
    "vpt_by_group": "jepa_framework.evaluate.scoring",
    "vpt_by_threshold": "jepa_framework.evaluate.scoring",
    "PIXEL_VPT_EPS": "jepa_framework.evaluate.image_scoring",
}


def __getattr__(name: str) -> NoReturn:
    """Point code written against the old module at the new home of what it imports.

    An ImportError (not AttributeError) so that ``from jepa_framework.datasets.observations import
    X``
    shows this message rather than Python's generic one. Nothing is imported from here: the
    data layer never imports the evaluation.
    """
    if name in MOVED:
        raise ImportError(
            f"jepa_framework.datasets.observations.{name} moved to {MOVED[name]}.{name}: scoring, "
            "baselines and figures are the evaluation's, not the data's (docs/plugins.md)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
