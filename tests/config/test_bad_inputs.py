"""Bad recipes, flags and overrides: each is exit code 2 with a message naming the key at fault,
no traceback, and no folder created (checked with the output and working folders in tmp_path).

Also the limits that keep a hostile recipe cheap: file size, alias expansion, nesting, the
number of problems listed and the length of override text (refusals asserted, never timings).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from jepa_framework.commands.cli import main
from jepa_framework.config import safe_yaml
from jepa_framework.config.overrides import MAX_OVERRIDE_CHARS, apply_overrides
from jepa_framework.config.recipe import load_recipe
from jepa_framework.core.errors import JepaError, RecipeError
from jepa_framework.testing import OSCILLATOR_NETWORKS

#: a valid recipe file, so file-level cases differ from it in one way only
GOOD = (Path(__file__).parents[2] / "examples" / "recipes" / "circle.yaml").read_text()

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)

#: (id, extra command-line arguments, recipe file text or None for the built-in `circle`,
#:  text the message must contain -- the key at fault)
#: circle with the parameter-free oscillator, for the checks that are the oscillator's own
OSCILLATOR = list(OSCILLATOR_NETWORKS)

CASES: list[tuple[str, list[str], str | bytes | None, str]] = [
    ("epochs-huge", ["train.epochs=100000000000000000000000000000"], None, "train.epochs"),
    ("epochs-zero", ["train.epochs=0"], None, "train.epochs"),
    ("epochs-float", ["train.epochs=2.5"], None, "train.epochs"),
    ("lr-nan", ["train.lr=nan"], None, "train.lr"),
    ("lr-yaml-nan", ["train.lr=.nan"], None, "train.lr"),
    ("lr-inf", ["train.lr=.inf"], None, "train.lr"),
    ("lr-negative", ["train.lr=-1"], None, "train.lr"),
    ("lr-zero", ["train.lr=0"], None, "train.lr"),
    ("lr-text", ["train.lr=fast"], None, "train.lr"),
    ("decoder-lr-nan", ["decoder_train.lr=nan"], None, "decoder_train.lr"),
    ("decoder-lr-negative", ["decoder_train.lr=-1e-3"], None, "decoder_train.lr"),
    ("decoder-epochs-negative", ["decoder_train.epochs=-3"], None, "decoder_train.epochs"),
    ("size-zero", ["data.dataset.size=0"], None, "data.dataset.size"),
    ("size-negative", ["data.dataset.size=-10"], None, "data.dataset.size"),
    ("sequence-length-1", ["data.dataset.sequence_length=1"], None, "sequence_length"),
    ("size-one", ["data.dataset.size=1"], None, "data.dataset.size"),
    ("clip-longer-than-data", ["data.history=40"], None, "data.dataset.sequence_length"),
    ("embedding-dim-zero", ["model.embedding_dim=0"], None, "model.embedding_dim"),
    ("batch-negative", ["train.batch_size=-8"], None, "train.batch_size"),
    ("decoder-batch-zero", ["decoder_train.batch_size=0"], None, "decoder_train.batch_size"),
    ("threads-negative", ["train.threads=-1"], None, "train.threads"),
    ("ema-start-above-1", ["objective.target.ema_start=1.5"], None, "ema_start"),
    ("ema-end-negative", ["objective.target.ema_end=-0.1"], None, "ema_end"),
    ("weight-decay-negative", ["train.weight_decay=-0.1"], None, "train.weight_decay"),
    ("grad-clip-negative", ["train.grad_clip=-1"], None, "train.grad_clip"),
    ("history-zero", ["data.history=0"], None, "data.history"),
    ("rollout-zero", ["objective.rollout_steps=0"], None, "objective.rollout_steps"),
    ("val-fraction-1", ["data.val_fraction=1"], None, "data.val_fraction"),
    ("eval-trajectories-zero", ["eval.trajectories=0"], None, "eval.trajectories"),
    ("eval-horizon-negative", ["eval.horizon=-1"], None, "eval.horizon"),
    ("fps-zero", ["output.fps=0"], None, "output.fps"),
    ("panel-size-zero", ["output.video_panel_size=0"], None, "output.video_panel_size"),
    ("forecast-frames-zero", ["output.forecast_frames=0"], None, "output.forecast_frames"),
    ("seed-negative", ["seed=-1"], None, "seed"),
    ("precision-typo", ["train.precision=fp16"], None, "train.precision"),
    ("device-typo", ["train.device=gpu"], None, "train.device"),
    ("hidden-dim-zero", ["model.encoder.hidden_dim=0"], None, "model.encoder.hidden_dim"),
    ("depth-negative", ["model.predictor.depth=-1"], None, "model.predictor.depth"),
    ("weight-negative", ["objective.regularizer.var_weight=-1"], None, "var_weight"),
    ("noise-negative", ["data.dataset.noise=-0.5"], None, "data.dataset.noise"),
    ("unknown-key", ["train.epoch=3"], None, "did you mean 'epochs'"),
    ("unknown-section", ["trian.lr=0.1"], None, "did you mean 'train'"),
    ("unknown-regularizer", ["objective.regularizer.name=vicrge"], None, "did you mean 'vicreg'"),
    ("unknown-dataset", ["data.dataset.name=circel"], None, "did you mean 'circle'"),
    ("section-not-mapping", ["train=5"], None, "train: expected a mapping"),
    ("tracking-not-list", ["tracking=local"], None, "tracking: expected a list"),
    ("tracker-file-escapes", ["tracking=[{name: local, filename: ../x}]"], None, "filename"),
    ("name-with-slash", ["name=a/b"], None, "name"),
    ("name-climbs-out", ["name=../x"], None, "name"),
    ("name-empty", ["name="], None, "name"),
    ("name-control-char", ["name=a\tb"], None, "name"),
    ("output-dir-empty", ["output.dir="], None, "output.dir"),
    ("override-without-value", ["train.epochs"], None, "train.epochs"),
    ("legacy-epochs-negative", ["--epochs", "-1"], None, "train.epochs"),
    ("legacy-lr-negative", ["--lr", "-0.1"], None, "train.lr"),
    ("legacy-size-zero", ["--size", "0"], None, "data.dataset.size"),
    ("legacy-workers-negative", ["--workers", "-2"], None, "train.threads"),
    ("not-utf8", [], b"name: caf\xe9\n", "UTF-8"),
    ("empty-file", [], "", "empty"),
    ("top-level-list", [], "- name: circle\n", "mapping"),
    ("duplicate-key", [], GOOD + "train: {epochs: 3}\n", "'train' twice"),
    ("alias-bomb", [], BOMB, "each alias"),
    ("too-large", [], GOOD + "#" * safe_yaml.MAX_BYTES, "larger than"),
    ("too-deep", [], "name: x\nd: " + "[" * 200 + "]" * 200 + "\n", "nested"),
    ("invalid-yaml", [], "name: [unclosed\n", "not valid YAML"),
    ("python-tag", [], "name: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("missing-section", [], "name: x\ndata: {dataset: circle}\n", "model: required"),
    # the oscillator needs three frames or more, and has nothing to refit
    (
        "oscillator-short-history",
        [*OSCILLATOR, "data.history=2", "model.embedding_dim=8"],
        None,
        "data.history must be at least 3",
    ),
    ("refit-without-parameters", [*OSCILLATOR, "refit.epochs=2"], None, "no parameters"),
    ("decoder-solver-typo", ["decoder_train.solver=lstsq"], None, "decoder_train.solver"),
    # a linear decoder is solved in closed form: a two-layer MLP has none
    (
        "least-squares-nonlinear-decoder",
        ["decoder_train.solver=least_squares", "model.decoder.depth=2"],
        None,
        "decoder_train.solver 'least_squares' fits a decoder that is one linear map",
    ),
]


def test_the_table_is_large():
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("extra", "text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_clear_exit_2_before_any_folder(
    tmp_path, monkeypatch, capsys, extra, text, expected
):
    monkeypatch.chdir(tmp_path)
    recipe = "circle"
    if text is not None:
        path = tmp_path / "recipe.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        recipe = str(path)
    before = set(tmp_path.iterdir())
    args = ["run", recipe, f"output.dir={tmp_path / 'out'}"]
    code = main(args + extra)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("jepa: error: ") and "Traceback" not in err
    assert expected in err, err
    assert len(err) < 5000
    assert set(tmp_path.iterdir()) == before  # no run folder, no results/, no out/


def test_override_problems_say_they_came_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["show", "circle", "train.epoch=3", "train.lr=-1"]) == 2
    err = capsys.readouterr().err
    assert "circle.yaml with command-line overrides has 2 problem(s)" in err
    assert "train.epoch: unknown key (did you mean 'epochs'?)" in err
    assert "[command-line override 'train.epoch=3']" in err
    assert "train.lr: must be greater than 0, got -1.0 [command-line override 'train.lr=-1']" in err


def test_problems_in_the_file_are_not_blamed_on_the_command_line(tmp_path):
    path = tmp_path / "r.yaml"
    bad, replaced = re.subn(r"train: \{epochs: \d+,", "train: {epochs: -30,", GOOD)
    assert replaced == 1  # the example recipe's train line, whatever its epochs
    path.write_text(bad)
    with pytest.raises(RecipeError) as info:
        load_recipe(str(path), ["train.lr=0.01"])
    assert info.value.problems == ["train.epochs: must be at least 1, got -30"]


def test_every_refused_field_of_a_section_is_listed(tmp_path):
    with pytest.raises(RecipeError) as info:
        load_recipe("circle", ["train.lr=-1", "train.batch_size=0", "train.weight_decay=-1"])
    assert [p.split(":")[0] for p in info.value.problems] == [
        "train.batch_size",
        "train.lr",
        "train.weight_decay",
    ]


# --- limits -------------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_before_it_expands():
    with pytest.raises(safe_yaml.YamlLimitError, match="counting each alias as a copy"):
        safe_yaml.loads(BOMB)


def test_an_alias_inside_its_own_anchor_is_refused():
    with pytest.raises(safe_yaml.YamlLimitError, match="inside its own anchor"):
        safe_yaml.loads("a: &a [1, *a]\n")


def test_too_many_values_are_refused_even_without_aliases():
    with pytest.raises(safe_yaml.YamlLimitError, match=f"more than {safe_yaml.MAX_NODES} values"):
        safe_yaml.loads("[" + "1," * safe_yaml.MAX_NODES + "]")


def test_modest_anchors_and_merges_still_work():
    data = safe_yaml.loads(
        "base: &b {epochs: 3, lr: 0.1}\ntrain: {<<: *b, lr: 0.2}\nlist: [*b, *b]\n"
    )
    assert data["train"] == {"epochs": 3, "lr": 0.2}
    assert data["list"] == [{"epochs": 3, "lr": 0.1}] * 2


def test_duplicate_keys_name_the_key_and_both_lines():
    with pytest.raises(Exception, match=r"found the key 'lr' twice \(first on line 2\)") as info:
        safe_yaml.loads("train:\n  lr: 1\n  epochs: 2\n  lr: 3\n")
    assert "line 4" in str(info.value)


def test_a_recipe_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "k: v\n" * (safe_yaml.MAX_BYTES // 4))
    with pytest.raises(JepaError, match=f"larger than {safe_yaml.MAX_BYTES // 1024} KiB"):
        load_recipe(str(path))


def test_many_unknown_keys_give_a_short_message(tmp_path):
    keys = "".join(f"  junk_{i}: {i}\n" for i in range(10_000))  # under the size limit
    path = tmp_path / "junk.yaml"
    assert "\noutput:" not in GOOD  # a section the example recipe leaves out
    path.write_text(GOOD + "output:\n" + keys)
    with pytest.raises(RecipeError) as info:
        load_recipe(str(path))
    text = str(info.value)
    assert "output.junk_0: unknown key" in text
    assert f"... and {len(info.value.problems) - RecipeError.MAX_LISTED} more" in text
    assert "9980 more unknown keys" in "\n".join(info.value.problems)
    assert len(text.splitlines()) == RecipeError.MAX_LISTED + 2


def test_many_bad_list_items_are_listed_at_most_max(tmp_path):
    with pytest.raises(RecipeError) as info:
        load_recipe("circle", ["tracking=[" + ", ".join(["5"] * 100) + "]"])
    assert len(info.value.problems) == 100
    assert str(info.value).endswith(f"... and {100 - RecipeError.MAX_LISTED} more")


def test_override_text_is_capped():
    with pytest.raises(JepaError, match="more than"):
        apply_overrides({}, ["name=" + "x" * MAX_OVERRIDE_CHARS])
    with pytest.raises(
        JepaError, match="(?s)command-line override 'tracking=.*counting each alias"
    ):
        apply_overrides({}, ["tracking=" + BOMB])


@pytest.mark.parametrize("text", [b"name: \xff\xfe\n", BOMB.encode()], ids=["not-utf8", "bomb"])
def test_the_installed_command_exits_2_without_a_traceback(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    done = subprocess.run(
        [sys.executable, "-m", "jepa_framework", "run", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("jepa: error:") and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
