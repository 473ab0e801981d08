"""Observation spaces describe; the evaluation scores: the kind -> scoring table and its layering.

The data layer's :mod:`jepa_framework.datasets.observations` says what observations are (kind,
shape);
:mod:`jepa_framework.evaluate.spaces` picks how they are scored. A plugin's own kind scores
itself, and nothing below the evaluation layer imports it.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import attrs
import pytest
import torch

from jepa_framework.core.errors import PluginError
from jepa_framework.datasets.observations import (
    ImageObservations,
    ObservationSpace,
    VectorObservations,
)
from jepa_framework.evaluate.image_scoring import ImageScoring
from jepa_framework.evaluate.report import summarise_forecast
from jepa_framework.evaluate.rollout import score
from jepa_framework.evaluate.scoring import Curves, Group, Scoring, VptFn
from jepa_framework.evaluate.spaces import scoring_for, scoring_of
from jepa_framework.evaluate.vector_scoring import VectorScoring
from jepa_framework.pipeline import eval_memory

from ..test_architecture import LAYERS, graph, layer


def test_the_built_in_kinds_get_the_built_in_scorings():
    vector, image = VectorObservations(dims=("x1", "y1")), ImageObservations(shape=(3, 16, 16))
    assert (vector.kind, image.kind) == ("vector", "image")
    assert isinstance(vector, ObservationSpace) and isinstance(image, ObservationSpace)
    assert not isinstance(vector, Scoring)  # a description, not a scoring
    assert scoring_for(vector) == VectorScoring() and scoring_for(image) == ImageScoring()
    # what eval.json's forecast.metric and headline_threshold have always said
    assert (VectorScoring().metric, VectorScoring().headline_threshold) == ("NRMSE", 0.5)
    assert (ImageScoring().metric, ImageScoring().headline_threshold) == ("relative pixel MSE", 0.5)


def test_built_in_datasets_describe_their_observations(fresh_host):
    from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams

    dataset = PendulumDataset(PendulumParams(size=2, sequence_length=3, cache=False))
    space = dataset.observation_space
    assert space == VectorObservations(dims=("x1", "y1", "x2", "y2"))


@attrs.frozen
class CoordinatesWithMae(VectorScoring):
    """A plugin's kind of observation that scores itself: the core's NRMSE, plus MAE."""

    kind: ClassVar[str] = "vector_mae"

    def scorer(self, truth: Any) -> Any:
        nrmse_of = super().scorer(truth)
        return lambda pred, true: {
            **nrmse_of(pred, true),
            "mae": (pred - true).abs().flatten(2).mean(-1),
        }

    def summarise(self, curves: Curves, vpt: VptFn, groups: dict[str, Group]) -> dict[str, Any]:
        return {**super().summarise(curves, vpt, groups), "mae": curves["mae"].mean(0).tolist()}


class _Dataset:
    """Just what summarise_forecast reads of a dataset."""

    frame_dt = 0.1
    lyapunov_frames = None
    group_lyapunov_frames: ClassVar[dict[str, float]] = {}

    def __init__(self, space: Any) -> None:
        self.observation_space = space


def test_a_plugins_own_kind_of_observation_is_its_own_scoring():
    space = CoordinatesWithMae()
    assert scoring_for(space) is space
    dataset = _Dataset(space)
    assert scoring_of(dataset) is space  # type: ignore[arg-type]
    pred, truth = torch.zeros(4, 5, 2), torch.ones(4, 5, 2)
    curves = space.scorer(lambda: truth + torch.randn(4, 5, 2))(pred, truth)
    assert set(curves) == {"nrmse", "mae"} and torch.allclose(curves["mae"], torch.ones(4, 5))
    forecast = summarise_forecast({"jepa": curves}, dataset, {})  # type: ignore[arg-type]
    assert forecast["kind"] == "vector_mae" and forecast["metric"] == "NRMSE"
    assert forecast["methods"]["jepa"]["mae"] == [1.0] * 5


def test_a_kind_nobody_scores_is_a_plugin_error_that_says_what_to_do():
    @attrs.frozen
    class Graphs:
        kind: ClassVar[str] = "graph"

    with pytest.raises(PluginError, match=r"kind 'graph', which the core does not score") as err:
        scoring_of(_Dataset(Graphs()))  # type: ignore[arg-type]
    assert "test_scoring._Dataset" in str(err.value)
    assert "jepa_framework.evaluate.scoring.Scoring" in str(err.value)


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("BaselineInputs", "jepa_framework.evaluate.baseline_inputs"),
        ("Panel", "jepa_framework.evaluate.scoring"),
        ("vpt_by_group", "jepa_framework.evaluate.scoring"),
    ],
)
def test_what_moved_out_of_the_data_layer_says_where_it_went(name, home):
    with pytest.raises(ImportError, match=rf"moved to {home}\.{name}"):
        exec(f"from jepa_framework.datasets.observations import {name}")
    with pytest.raises(AttributeError):
        import jepa_framework.datasets.observations as obs

        obs.nothing_like_this  # noqa: B018


def test_the_evaluation_is_one_layer_above_training_imported_only_from_above():
    edges = graph()
    evaluation = {m for m in edges if m == "evaluate" or m.startswith("evaluate.")}
    (level,) = {layer(m) for m in evaluation}
    assert LAYERS[level] == "evaluate"
    below = ("datasets.base", "datasets.observations", "models.jepa", "pipeline.training")
    assert level > max(layer(m) for m in below)
    importers = {m for m, targets in edges.items() if targets & evaluation} - evaluation
    assert all(layer(m) > level for m in importers), sorted(importers)
    observations, data = edges["datasets.observations"], edges["datasets.base"]
    assert not observations & evaluation and not data & evaluation


def test_the_memory_estimate_and_the_scoring_loop_use_one_chunk_size():
    assert inspect.signature(score).parameters["chunk"].default == eval_memory.CHUNK
