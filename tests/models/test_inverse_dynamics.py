"""objective.inverse_dynamics: a head reads a_t back from (z_t, z_t+1) as a term of phase 1."""

from __future__ import annotations

import json

import pytest
import torch

import jepa_framework
from jepa_framework.commands.cli import main
from jepa_framework.core.seeds import derive_seed
from jepa_framework.models.inverse_dynamics import InverseDynamics
from jepa_framework.testing import run_tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_term_reaches_the_encoder_through_the_context_latent_only():
    head = InverseDynamics(embedding_dim=3, action_dim=2, hidden_dim=8, weight=1.0)
    z = torch.randn(5, 3, requires_grad=True)
    z_next = torch.randn(5, 3, requires_grad=True)
    head.loss(z, z_next, torch.randn(5, 2)).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert z_next.grad is None  # the next latent is a target: no gradient into it


def test_an_acting_run_trains_and_saves_the_head_and_logs_its_term(tmp_path):
    path = run_tiny(
        "two_rooms", tmp_path, "objective.inverse_dynamics.weight=2", "output.forecast_frames=4"
    )
    rows = [json.loads(line) for line in (path / "scalars.jsonl").read_text().splitlines()]
    logged = [row["jepa/inverse_dynamics"] for row in rows if "jepa/inverse_dynamics" in row]
    assert logged and all(value > 0 for value in logged)
    # the head is a training device: the checkpoint (for resuming) keeps it, models/ does not
    from jepa_framework.pipeline.checkpoint import load_checkpoint

    saved = load_checkpoint(path / "checkpoint.pt").model
    trained = {k.removeprefix("inverse_dynamics."): w for k, w in saved.items() if "inverse" in k}
    with torch.random.fork_rng(devices=[]):  # the head as the assembly drew it, untrained
        torch.manual_seed(derive_seed(0, "inverse_dynamics"))
        fresh = InverseDynamics(8, 2, 64, 2.0)
    assert trained.keys() == fresh.state_dict().keys()
    assert any(not torch.equal(w, trained[k]) for k, w in fresh.state_dict().items())
    run = jepa_framework.load_run(path, device="cpu")
    assert isinstance(run.model.inverse_dynamics, InverseDynamics)


def test_phase_one_starts_the_same_with_or_without_the_head():
    from jepa_framework.api import resolve_recipe
    from jepa_framework.pipeline.assemble import assemble
    from jepa_framework.plugin.host import host
    from jepa_framework.testing import TINY_OVERRIDES

    def first_weights(*overrides: str) -> dict[str, torch.Tensor]:
        recipe = resolve_recipe("two_rooms", [*TINY_OVERRIDES, *overrides], host())
        model = assemble(recipe, host(), trackers=False).model
        return {**model.encoder.state_dict(), **model.predictor.state_dict()}

    plain, with_head = first_weights(), first_weights("objective.inverse_dynamics.weight=1")
    assert all(torch.equal(plain[k], with_head[k]) for k in plain)


def test_the_term_on_an_autonomous_predictor_exits_2_naming_the_key(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "circle", "objective.inverse_dynamics.weight=1", f"output.dir={out}"])
    err = capsys.readouterr().err
    assert code == 2 and "objective.inverse_dynamics.weight" in err and "Traceback" not in err
    assert not out.exists()
