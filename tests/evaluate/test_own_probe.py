"""The supervised model read through a probe of its own latents, beside the JEPA's probe."""

from __future__ import annotations

import attrs
import pytest
import torch

from jepa_framework.config.recipe import load_recipe
from jepa_framework.evaluate.own_probe import OwnLatents, own_name, own_probe_methods
from jepa_framework.evaluate.probes import fit_probe, probe_set, validation_windows
from jepa_framework.evaluate.report import make_baselines
from jepa_framework.pipeline.assemble import assemble
from jepa_framework.pipeline.optim import StepPlan

from .. import conftest

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained():
    from jepa_framework.plugin.host import host

    registries = host()
    overrides = [*conftest.TINY, "objective.rollout_steps=2", "train.threads=1"]
    recipe, _ = load_recipe("pendulum", overrides, registries=registries)
    recipe = attrs.evolve(recipe, tracking=[])
    assembly = assemble(recipe, registries, trackers=False)
    methods, _ = make_baselines(recipe, registries, assembly, 2, {"jepa": StepPlan(3, 3, 1)})
    return assembly, methods


def _own(assembly, methods):
    return own_probe_methods(
        methods,
        assembly.dataset,
        assembly.split.train,
        2,
        samples=200,
        seed=0,
        validation=(8, 2, 77),
        device=torch.device("cpu"),
    )


def test_only_methods_with_latents_of_their_own_get_an_own_probe(trained):
    assembly, methods = trained
    assert isinstance(methods["supervised"], OwnLatents)
    assert not isinstance(methods["residual_mlp"], OwnLatents)
    own, records = _own(assembly, methods)
    assert set(own) == set(records) == {"supervised (own probe)"} == {own_name("supervised")}
    assert "alpha" in records["supervised (own probe)"]["penalty"]
    assert own["supervised (own probe)"].decode is None  # its frames are scored as supervised
    assert _own(assembly, {"residual_mlp": methods["residual_mlp"]}) == ({}, {})


def test_the_own_probe_reads_the_models_own_rolled_out_latents(trained):
    assembly, methods = trained
    model, dataset = methods["supervised"], assembly.dataset
    method = _own(assembly, methods)[0]["supervised (own probe)"]
    context = dataset.to_float(dataset.observations[:5, :4])
    latents = method.latents(context, 3)
    with torch.no_grad():
        z = model.encoder(model.standardise(context)[:, -2:])
        first = model.predictor(z)
    assert latents.shape == (5, 3, first.shape[-1])
    torch.testing.assert_close(latents[:, 0], first)
    # the probe is the one fitted on the model's own latents of the JEPA probe's windows
    train = probe_set(
        dataset, dataset.observations, dataset.states, 2, 200, 0, traj=assembly.split.train
    )
    held = validation_windows(dataset, 8, 2, 2, 77)
    choice, _ = fit_probe(model.window_encoder(), dataset, train, held, 2, torch.device("cpu"))
    readings = method.probe.predict(latents)
    assert readings.shape == (5, 3, train.targets.shape[-1])
    torch.testing.assert_close(readings, choice.ridge.predict(latents))
