"""Component contracts: a plugin network with the wrong output shape fails before training,
with an error naming the component, its plugin and the expected and actual shapes."""

from __future__ import annotations

import pytest

from jepa_framework.commands.cli import main

from ..conftest import TINY, make_distribution

WRONG_NETWORKS = """
import torch
from torch import nn

from jepa_framework import hookimpl


class TooWide(nn.Module):
    '''An encoder that forgets the embedding width: [B, H, *obs] -> [B, D + 1].'''

    def __init__(self, params, shapes):
        super().__init__()
        in_dim = shapes.history * shapes.obs_shape[0]
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, shapes.embedding_dim + 1))

    def forward(self, x):
        return self.net(x)


class Narrow(nn.Module):
    '''A predictor that assumes a fixed width of 5, whatever the recipe says.'''

    def __init__(self, params, shapes):
        super().__init__()
        self.net = nn.Linear(5, 5)

    def forward(self, z):
        return self.net(z)


class Flat(nn.Module):
    '''A decoder that returns every observation flattened with an extra value.'''

    def __init__(self, params, shapes):
        super().__init__()
        self.net = nn.Linear(shapes.embedding_dim, 7)

    def forward(self, z):
        return self.net(z)


@hookimpl
def register_encoders(register):
    register("too_wide", TooWide)


@hookimpl
def register_predictors(register):
    register("narrow", Narrow)


@hookimpl
def register_decoders(register):
    register("flat", Flat)
"""


@pytest.fixture
def wrong_plugin(tmp_path, monkeypatch, fresh_host):
    """A third-party package, installed as an entry point, whose networks break the contract."""
    make_distribution(
        tmp_path / "site",
        "wrong-networks",
        {"wrong_networks": WRONG_NETWORKS},
        {"wrong_networks": "wrong_networks"},
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    fresh_host()
    return tmp_path / "out"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "model.encoder.name=too_wide",
            ["encoder 'too_wide'", "plugin 'wrong_networks'", "returned [2, 9]", "expected [2, 8]"],
        ),
        (
            "model.predictor.name=narrow",
            ["predictor 'narrow'", "plugin 'wrong_networks'", "[2, 8]", "mat1 and mat2"],
        ),
        (
            "model.decoder.name=flat",
            ["decoder 'flat'", "plugin 'wrong_networks'", "returned [2, 7]", "expected [2, 2]"],
        ),
    ],
)
def test_a_network_that_breaks_its_contract_stops_the_run_before_training(
    wrong_plugin, capsys, override, expected
):
    code = main(["run", "circle", *TINY, override, f"output.dir={wrong_plugin}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert not wrong_plugin.exists()  # nothing was created: the check precedes the run folder


def test_the_built_in_networks_pass_their_contracts(tmp_path):
    assert main(["run", "pendulum_image", *TINY, "data.dataset.image_size=16",
                 "eval.enabled=false", f"output.dir={tmp_path}"]) == 0  # fmt: skip
