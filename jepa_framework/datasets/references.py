"""What a dataset declares as its nothing-learned forecast: a predictor plugin on raw frames.

A learned encoder is only worth its training where a forecaster that learns nothing cannot
forecast. Some data have such a forecaster: the periodic curves are continued exactly by the
``oscillator`` predictor applied to the raw coordinates of the last frames (the identity as the
encoder). A dataset names it with
:attr:`~jepa_framework.datasets.base.DynamicsDataset.nothing_learned_reference`, so the
evaluation scores it beside every run (:mod:`jepa_framework.evaluate.references`) and no code
asks which dataset it holds.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class NothingLearned:
    """The predictor plugin ``predictor`` (built with ``params``) stepping the latent of the
    identity encoder: the flattened raw observations of the last ``data.history`` frames.

    It must have no parameters: nothing of it is trained or fitted.
    """

    predictor: str
    params: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def of(cls, declared: str | NothingLearned) -> NothingLearned:
        """A declaration as a dataset may write it: a predictor's name (its default params), or
        a :class:`NothingLearned`."""
        return declared if isinstance(declared, NothingLearned) else cls(declared)

    @property
    def method(self) -> str:
        """Its name in eval.json's forecast methods: ``<predictor>_raw``."""
        return f"{self.predictor}_raw"
