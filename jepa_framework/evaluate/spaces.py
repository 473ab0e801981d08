"""Which scoring a dataset's observations get: the evaluation's table of observation kinds.

The data layer only describes observations (:mod:`jepa_framework.datasets.observations`: a ``kind``
and
its shape); what a kind means for evaluation is decided here. The built-in kinds map to
:class:`~jepa_framework.evaluate.vector_scoring.VectorScoring` and
:class:`~jepa_framework.evaluate.image_scoring.ImageScoring`. A plugin's observation space that
implements :class:`~jepa_framework.evaluate.scoring.Scoring` itself is its own scoring, which is
how a plugin adds a new kind of observation without a change to the core.
"""

from __future__ import annotations

from collections.abc import Callable

from jepa_framework.core.errors import PluginError
from jepa_framework.datasets.base import DynamicsDataset
from jepa_framework.datasets.observations import (
    ImageObservations,
    ObservationSpace,
    VectorObservations,
)
from jepa_framework.evaluate.image_scoring import ImageScoring
from jepa_framework.evaluate.scoring import Scoring
from jepa_framework.evaluate.vector_scoring import VectorScoring

#: observation kind -> the scoring of a space of that kind
SCORINGS: dict[str, Callable[[ObservationSpace], Scoring]] = {
    VectorObservations.kind: lambda space: VectorScoring(),
    ImageObservations.kind: lambda space: ImageScoring(),
}


def scoring_for(space: ObservationSpace, owner: str = "the dataset") -> Scoring:
    """The scoring of ``space``: the space itself if it is a :class:`Scoring` (a plugin's own
    kind), else the built-in scoring of its ``kind``; ``owner`` names it in the error."""
    if isinstance(space, Scoring):
        return space
    kind = getattr(space, "kind", None)
    factory = SCORINGS.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise PluginError(
            f"{owner}'s observation_space {space!r} has kind {kind!r}, which the core does not "
            f"score (it scores {sorted(SCORINGS)}). Return VectorObservations or "
            "ImageObservations from jepa_framework.datasets.observations, or make the space "
            "implement "
            "jepa_framework.evaluate.scoring.Scoring (docs/plugins.md)."
        )
    return factory(space)


def scoring_of(dataset: DynamicsDataset) -> Scoring:
    """The scoring of ``dataset.observation_space`` (see :func:`scoring_for`)."""
    cls = type(dataset)
    return scoring_for(dataset.observation_space, f"dataset {cls.__module__}.{cls.__qualname__}")
