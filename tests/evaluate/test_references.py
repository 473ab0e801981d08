"""The nothing-learned reference a dataset declares: a predictor plugin on raw observations."""

from __future__ import annotations

import pytest
import torch

from jepa_framework.core.errors import PluginError
from jepa_framework.datasets.references import NothingLearned
from jepa_framework.evaluate.metrics import nrmse
from jepa_framework.evaluate.references import RawPredictorForecast, nothing_learned

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def host(fresh_host):
    return fresh_host()


def _curve(name: str, **params):
    from jepa_builtins.datasets import curves

    cls, params_cls = {
        "circle": (curves.CircleDataset, curves.CircleParams),
        "lissajous": (curves.LissajousDataset, curves.LissajousParams),
        "spiral": (curves.SpiralDataset, curves.SpiralParams),
    }[name]
    return cls(params_cls(size=16, sequence_length=12, cache=False, **params))


def _errors(dataset, forecast, history: int, horizon: int) -> torch.Tensor:
    """NRMSE curves [N, horizon] of ``forecast`` on fresh trajectories (training-set scale)."""
    stored, _ = dataset.generate(32, history + horizon, seed=5)
    frames = dataset.to_float(stored)
    sigma = dataset.to_float(dataset.observations).flatten(0, 1).std(0)
    return nrmse(forecast(frames[:, :history], horizon), frames[:, history:], sigma)


@pytest.mark.parametrize("mode", ["circle", "lissajous"])
def test_the_oscillator_on_raw_coordinates_continues_a_clean_periodic_curve(host, mode):
    dataset = _curve(mode)
    methods, notes = nothing_learned(dataset, host, history=4)
    assert set(methods) == set(notes) == {"oscillator_raw"}
    assert notes["oscillator_raw"]["what"].startswith("nothing learned")
    assert notes["oscillator_raw"] | {"what": ""} == {
        "what": "",
        "predictor": "oscillator",
        "params": {},
        "history": 4,
    }
    errors = _errors(dataset, methods["oscillator_raw"], 4, 50)
    assert errors[:, :50].max() < 1e-3


def test_the_spiral_declares_the_growing_oscillator_which_the_plain_one_is_far_behind(
    host,
):
    dataset = _curve("spiral")
    assert dataset.nothing_learned_reference == NothingLearned("oscillator", {"growing": True})
    methods, notes = nothing_learned(dataset, host, history=8)
    assert notes["oscillator_raw"]["params"] == {"growing": True}
    growing = _errors(dataset, methods["oscillator_raw"], 8, 50)
    assert growing.max() < 0.02
    plain = host.registry("predictors").get("oscillator")
    net = plain.factory(plain.params(), _shapes(8, 2))
    assert _errors(dataset, RawPredictorForecast(net, 8), 8, 50)[:, -1].median() > 0.1


def _shapes(history: int, features: int):
    from jepa_framework.core.components import Shapes

    return Shapes((features,), history, history * features)


def test_a_dataset_without_a_reference_gets_none(host):
    from jepa_builtins.datasets.pendulum import PendulumDataset, PendulumParams

    dataset = PendulumDataset(PendulumParams(size=2, sequence_length=3, cache=False))
    assert dataset.nothing_learned_reference is None
    assert nothing_learned(dataset, host, history=2) == ({}, {})


def test_a_window_too_short_for_the_predictor_leaves_the_reference_out_and_says_why(host):
    methods, notes = nothing_learned(_curve("circle"), host, history=2)
    assert methods == {}
    assert "data.history" in notes["oscillator_raw"]["skipped"]


def test_a_reference_with_parameters_is_refused(host, monkeypatch):
    from jepa_builtins.datasets.curves import CircleDataset

    monkeypatch.setattr(CircleDataset, "nothing_learned_reference", "mlp")
    with pytest.raises(PluginError, match="without parameters"):
        nothing_learned(_curve("circle"), host, history=4)


def test_the_forecast_is_the_newest_frame_of_each_step_in_the_contexts_dtype():
    class Shift(torch.nn.Module):  # appends the last frame plus one: a known rollout
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            frames = z.view(len(z), 3, 2)
            return torch.cat([frames[:, 1:], frames[:, -1:] + 1], 1).flatten(1)

    context = torch.arange(20.0).view(2, 5, 2)  # five frames: only the last three are read
    out = RawPredictorForecast(Shift(), 3)(context, 4)
    assert out.dtype == torch.float32 and out.shape == (2, 4, 2)
    expected = context[:, -1:] + torch.arange(1.0, 5.0).view(1, 4, 1)
    assert torch.equal(out, expected)
