"""The `jepa` command line. Heavy imports (torch) happen inside commands, so --help is instant."""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from jepa_framework.core.errors import JepaError
from jepa_framework.plugin.registry import KINDS

#: what `jepa sweep` writes into its folder
SWEEP_FILES = "results.md, results.csv, runs.csv, forecast_by_seed.png"
#: the prototype's flags, kept as shorthands for recipe overrides
LEGACY_FLAGS = {
    "mode": "data.dataset.name",
    "size": "data.dataset.size",
    "image_size": "data.dataset.image_size",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "lr": "train.lr",
    "history_length": "data.history",
    "prediction_horizon": "objective.rollout_steps",
    "decoder_epochs": "decoder_train.epochs",
    "grayscale": "data.dataset.grayscale",
    "workers": "train.threads",
    "seed": "seed",
}
#: prototype flags that take no value (present: the key is set to true)
SWITCHES = {"grayscale"}


def _recipe_and_overrides(args: argparse.Namespace) -> tuple[str, list[str]]:
    """Positional recipe and overrides, plus the prototype's flags turned into overrides."""
    positional = list(args.items)
    recipe = positional.pop(0) if positional and "=" not in positional[0] else None
    overrides = []
    for flag, key in LEGACY_FLAGS.items():
        value = getattr(args, flag, None)
        if value is None or value is False:
            continue
        if flag in SWITCHES:
            value = "true"
        if flag == "mode" and recipe is None:
            recipe = value  # `--mode pendulum` alone runs the built-in recipe of that mode
            continue
        overrides.append(f"{key}={value}")
    if recipe is None:
        raise JepaError(
            "no recipe given. Name a recipe file or a built-in recipe "
            "(`jepa run circle`), or use --mode; `jepa list recipes` shows the built-ins."
        )
    return recipe, overrides + positional


def cmd_run(args: argparse.Namespace) -> int:
    from jepa_framework.config.recipe import load_recipe
    from jepa_framework.jobs.runner import resume_run, run_recipe
    from jepa_framework.plugin.host import host

    if args.resume is not None:
        if args.items:
            raise JepaError(
                "--resume continues a run exactly as it was configured; it takes no recipe or "
                "overrides. Drop them, or start a new run."
            )
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise JepaError(f"{run_dir} is not a run directory: it holds no config.yaml.")
        if resume_run(run_dir, host()):
            print(f"run finished: {run_dir}")
        else:
            print(f"nothing to do: {run_dir} already finished")
        return 0
    recipe_name, overrides = _recipe_and_overrides(args)
    recipe, _ = load_recipe(recipe_name, overrides)
    run_dir = run_recipe(recipe, host())
    print(f"run finished: {run_dir}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a finished run directory: eval.json, forecast_eval.png, probe_r2.png."""
    from jepa_framework.evaluate import evaluate_run, format_summary

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise JepaError(f"run directory {run_dir} does not exist.")
    from jepa_framework.core.progress import say
    from jepa_framework.jobs.runner import GLOSSARY

    say(
        f"evaluating {run_dir}: probes, forecasts and baselines (a minute or more at the "
        f"built-in recipes' sizes) ..."
    )
    report = evaluate_run(run_dir)
    print(format_summary(report))
    print(GLOSSARY)
    print(f"evaluation written to {run_dir / 'eval.json'}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Plan toward held-out goals with an action-conditioned run; writes plan.json (and
    plan.mp4 of the first episodes)."""
    from jepa_framework.core.progress import say
    from jepa_framework.planning.report import PLAN_NAME, format_plan, plan_run

    run_dir = Path(args.run_dir)
    say(
        f"planning toward held-out goals with {run_dir}: the reference models train first, "
        "then each method plans its episodes ..."
    )
    report = plan_run(run_dir, list(args.overrides))
    print(format_plan(report))
    print(f"planning written to {run_dir / PLAN_NAME}")
    if "video" in report:
        print(f"episodes filmed in {run_dir / report['video']}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a grid (comma-separated override values are axes) and write a comparison table."""
    from jepa_framework.jobs.launch import JobOptions, parse_time
    from jepa_framework.jobs.sweep import PLAN_FILE, collect_sweep, run_sweep
    from jepa_framework.plugin.host import host

    if args.collect:
        if args.items or args.sweep_dir:
            raise JepaError("--collect DIR takes no recipe, overrides or --sweep-dir.")
        sweep_dir = Path(args.collect)
        print(collect_sweep(sweep_dir), end="")
        print(f"tables written: {sweep_dir} ({SWEEP_FILES})")
        return 0
    sweep_dir = Path(args.sweep_dir) if args.sweep_dir else None
    if sweep_dir is not None and not args.items and (sweep_dir / PLAN_FILE).is_file():
        import json  # a rerun of the stored grid: `jepa sweep --sweep-dir DIR`

        stored = json.loads((sweep_dir / PLAN_FILE).read_text())
        recipe_name, overrides = stored["recipe"], stored["overrides"]
    else:
        recipe_name, overrides = _recipe_and_overrides(args)
    options = JobOptions(
        partition=args.partition,
        time_min=parse_time(args.time) if args.time else None,
        gpus=args.gpus,
        cpus=args.cpus,
    )
    sweep_dir, table = run_sweep(
        recipe_name, overrides, host(), sweep_dir, args.launcher, options, wait=not args.detach
    )
    if table is None:
        print(f"jobs submitted (ids in {sweep_dir / 'jobs' / 'jobs.json'}); when they end:")
        print(f"  jepa sweep --collect {sweep_dir}")
        return 0
    print(table, end="")
    print(f"sweep finished: {sweep_dir} ({SWEEP_FILES})")
    return 0


def _add_sweep_args(sweep: argparse.ArgumentParser) -> None:
    """Where the grid runs (this process or submitit jobs), where it goes, and collecting it."""
    sweep.add_argument(
        "--launcher",
        choices=["inline", "local", "slurm"],
        default="inline",
        help="inline: one run after another in this process (default); slurm: one Slurm job "
        "per run through submitit; local: the same jobs as local processes",
    )
    sweep.add_argument(
        "--sweep-dir",
        metavar="DIR",
        help="use this sweep folder; in an existing one, finished runs are skipped and "
        "interrupted ones resumed (alone, it reruns the grid stored there)",
    )
    sweep.add_argument(
        "--collect",
        metavar="DIR",
        help="write results.md and results.csv of a sweep folder from the runs that finished",
    )
    jobs = sweep.add_argument_group("jobs (--launcher slurm or local)")
    jobs.add_argument("--partition", help="Slurm partition")
    jobs.add_argument("--time", help="time limit per run: minutes, H:MM:SS or D-HH:MM:SS")
    jobs.add_argument("--gpus", type=int, help="GPUs per run")
    jobs.add_argument("--cpus", type=int, help="CPUs per run")
    mode = jobs.add_mutually_exclusive_group()
    mode.add_argument(
        "--wait",
        dest="detach",
        action="store_false",
        help="wait for the jobs and write the tables (default)",
    )
    mode.add_argument(
        "--detach",
        dest="detach",
        action="store_true",
        help="return once submitted; `jepa sweep --collect DIR` writes the tables later",
    )
    sweep.set_defaults(detach=False)


def cmd_show(args: argparse.Namespace) -> int:
    from jepa_framework.config.recipe import dump_recipe, load_recipe

    recipe_name, overrides = _recipe_and_overrides(args)
    recipe, _ = load_recipe(recipe_name, overrides)
    print(dump_recipe(recipe), end="")
    return 0


#: comments that are tool directives, not descriptions
_PRAGMAS = re.compile(r"(noqa|type:|fmt:|pragma|pyright:|mypy:|ruff:)", re.IGNORECASE)


def _source_field_docs(klass: type) -> dict[str, str]:
    """The fields a class body declares (``name: type = ...`` or ``name = ...`` at its top
    level), each with its comment: the comment lines right above it (``#`` or ``#:``), else
    the comment at the end of its line(s). ``{}`` when the source cannot be read."""
    import inspect
    import io
    import textwrap
    import tokenize

    try:
        source = textwrap.dedent(inspect.getsource(klass))
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (OSError, TypeError, SyntaxError, tokenize.TokenError):
        return {}
    comments: dict[int, str] = {}  # line -> text of a line that is only a comment
    trailing: dict[int, str] = {}  # line -> a comment after code on that line
    code_lines: set[int] = set()
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").lstrip(":").strip()
            (trailing if tok.start[0] in code_lines else comments)[tok.start[0]] = text
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
    out: dict[str, str] = {}
    depth, line_start, statement = 0, True, 0
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.INDENT:
            depth += 1
        elif tok.type == tokenize.DEDENT:
            depth -= 1
        elif tok.type in (tokenize.NEWLINE, tokenize.NL):
            line_start = tok.type == tokenize.NEWLINE or line_start
            continue
        elif tok.type == tokenize.COMMENT:
            continue
        if tok.type in (tokenize.INDENT, tokenize.DEDENT):
            continue
        first, line_start = line_start, False
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        is_field = (
            first
            and depth == 1
            and tok.type == tokenize.NAME
            and nxt is not None
            and nxt.type == tokenize.OP
            and nxt.string in (":", "=")
        )
        if not is_field:
            continue
        statement = tok.start[0]
        above, line = [], statement - 1
        while line in comments:
            above.insert(0, comments[line])
            line -= 1
        end = next((t.start[0] for t in tokens[i:] if t.type == tokenize.NEWLINE), statement)
        after = [trailing[n] for n in range(statement, end + 1) if n in trailing]
        parts = [c for c in (above or after) if c and not _PRAGMAS.match(c)]
        out[tok.string] = " ".join(parts)
    return out


def _docstring_mention(klass: type, name: str) -> str:
    """The sentences of the class docstring that name the field (in backquotes, else as a word)."""
    doc = " ".join((klass.__doc__ or "").split())
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z`(])", doc)  # not after "et al. 2021"
    for pattern in (rf"`{{1,2}}{re.escape(name)}\b", rf"(?<![\w.]){re.escape(name)}\b"):
        found = [s for s in sentences if re.search(pattern, s)]
        if found:
            return " ".join(found)
    return ""


def _range_end(name: str, docs: dict[str, str]) -> str:
    """``x_min`` / ``x_max`` beside each other: the ends of one range (with its partner's doc)."""
    for end, other, word in (("_min", "_max", "lower"), ("_max", "_min", "upper")):
        if name.endswith(end) and name[: -len(end)] + other in docs:
            base = name[: -len(end)]
            partner = docs[base + other]
            return f"{word} end of the {base} range" + (f" ({partner})" if partner else "")
    return ""


def field_docs(params: type) -> dict[str, str]:
    """A description of each field of an attrs params class, "" where there is none.

    In order: the field's ``metadata={"doc": ...}``; the comments beside or above its
    declaration in the class (a subclass's inherited fields: in the class that declares them);
    the docstring sentences of that class that name it; for ``x_min`` / ``x_max`` pairs, which
    end of the range it is.
    """
    import attrs

    out: dict[str, str] = {}
    for field in attrs.fields(params):
        doc = str(field.metadata.get("doc") or "")
        for klass in params.__mro__ if not doc else ():
            declared = _source_field_docs(klass)
            if field.name in declared:
                doc = declared[field.name] or _docstring_mention(klass, field.name)
                break
        out[field.name] = " ".join(doc.split())
    own = dict(out)
    for name, doc in own.items():  # radius_min / radius_max: the two ends of one range
        out[name] = doc or _range_end(name, own)
    return out


def _described(text: str, doc: str, verbose: bool, width: int) -> str:
    """``text  # doc``, the doc shortened to the line (all of it, wrapped, when verbose)."""
    import textwrap

    if not doc:
        return text
    if verbose:
        lines = textwrap.wrap(doc, max(40, width - 10))
        return "\n".join([text, *(f"          {line}" for line in lines)])
    room = width - len(text) - 4
    return f"{text}  # {textwrap.shorten(doc, max(room, 20), placeholder=' ...')}"


def _shown_default(default: object) -> str:
    """A default as a recipe would write it: a nested component by its name (its own params are
    listed under its own kind), anything else as its repr."""
    from jepa_framework.config.recipe import ComponentSpec

    if isinstance(default, ComponentSpec):
        return f"{{name: {default.name}}}"
    return repr(default)


def cmd_list(args: argparse.Namespace) -> int:
    import shutil

    from jepa_framework.plugin.host import host

    h = host()
    width = shutil.get_terminal_size((100, 24)).columns
    kinds = [args.kind] if args.kind else [*KINDS, "recipes"]
    for kind in kinds:
        if kind == "recipes":
            print("recipes:")
            for name, path in sorted(h.recipes.items()):
                print(f"  {name:<18} [{h.recipe_providers[name]}] {path}")
            continue
        registry = h.registry(kind)
        print(f"{kind}:")
        for component in registry:
            print(f"  {component.name:<18} [{component.plugin}] {component.doc}")
            docs = field_docs(component.params)
            for key, default in component.param_defaults().items():
                line = f"      {key} = {_shown_default(default)}"
                print(_described(line, docs.get(key, ""), args.verbose, width))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """Every plugin the entry-point group names: where it comes from and what it adds.

    Runs whatever state the plugins are in (broken, conflicting, strict mode), since it is the
    tool for inspecting that state; in strict mode it lists first, then exits 2.
    """
    from jepa_framework.plugin.host import DISABLE_ENV, host

    h = host(check=False)
    infos = list(h.info.values())
    for info in infos:
        status = "disabled" if info.disabled else ("BROKEN" if info.error else "ok")
        dist = f"{info.distribution} {info.version}".strip() or "(not installed)"
        print(f"{info.name} [{status}] {dist} - {info.module}")
        if info.error:
            print(f"    error: {info.error}")
        if info.hooks:
            print(f"    hooks: {', '.join(info.hooks)}")
        if info.components:
            print(f"    provides: {', '.join(info.components)}")
    broken = [i.name for i in infos if i.error]
    disabled = [i.name for i in infos if i.disabled]
    print(
        f"{len(infos)} plugin(s): {len(infos) - len(broken) - len(disabled)} ok, "
        f"{len(broken)} broken, {len(disabled)} disabled"
    )
    h.check_strict()
    if broken:
        print(f"silence broken plugins with {DISABLE_ENV}={','.join(broken)}")
    return 0


def cmd_plugins_new(args: argparse.Namespace) -> int:
    """Write a ready third-party plugin package (see jepa_framework/scaffold.py)."""
    from jepa_framework.commands.scaffold import commands, new_plugin

    target = new_plugin(args.plugin_name, Path(args.dir))
    steps = commands(target)
    print(f"wrote plugin package {target.resolve()}")
    print("install it into this environment (from any folder, no activated environment needed):")
    print(f"  {steps['install']}")
    print(f"  {steps['check']}    # {args.plugin_name} [ok] ...")
    print(f"  {steps['run']}")
    print("test it (installed or not):")
    print(f"  {steps['test']}")
    print(f"the same commands are in {target.resolve() / 'README.md'}")
    return 0


def _add_plugins_new(plugins: argparse.ArgumentParser) -> None:
    """`jepa plugins new NAME [--dir DIR]`; `jepa plugins` alone still lists."""
    actions = plugins.add_subparsers(dest="plugins_command", metavar="{new}")
    new = actions.add_parser(
        "new", help="write a ready plugin package (dataset, regularizer, recipe, tests)"
    )
    new.add_argument("plugin_name", metavar="NAME", help="package, plugin and dataset name")
    new.add_argument("--dir", default=".", help="folder to create NAME/ in (default: .)")
    new.set_defaults(func=cmd_plugins_new)


def _add_recipe_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "items",
        nargs="*",
        metavar="RECIPE [key=value ...]",
        help="a recipe file or built-in recipe name, then overrides such as train.epochs=5",
    )
    legacy = parser.add_argument_group("prototype flags (shorthands for overrides)")
    for flag, key in LEGACY_FLAGS.items():
        if flag in SWITCHES:
            legacy.add_argument(f"--{flag}", action="store_true", help=f"same as {key}=true")
            continue
        kind = str if flag == "mode" else (float if flag == "lr" else int)
        legacy.add_argument(f"--{flag}", type=kind, help=f"same as {key}=VALUE")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jepa",
        description="Train Joint Embedding Predictive Architectures on dynamics, from recipes.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train a recipe and write a run directory")
    _add_recipe_args(run)
    run.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint"
    )
    run.set_defaults(func=cmd_run)
    evaluate = sub.add_parser(
        "eval", help="evaluate a finished run: probes, forecasts vs baselines, eval.json"
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by jepa run")
    evaluate.set_defaults(func=cmd_eval)
    plan = sub.add_parser(
        "plan",
        help="plan toward held-out goals with an action-conditioned run: plan.json",
    )
    plan.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by jepa run")
    plan.add_argument(
        "overrides",
        nargs="*",
        metavar="plan.key=value",
        help="overrides of the recipe's plan section, such as plan.episodes=20",
    )
    plan.set_defaults(func=cmd_plan)
    sweep = sub.add_parser(
        "sweep",
        help="run a grid of overrides (a=x,y b=1,2) and compare the runs in one table",
    )
    _add_recipe_args(sweep)
    _add_sweep_args(sweep)
    sweep.set_defaults(func=cmd_sweep)
    show = sub.add_parser("show", help="print the resolved recipe (defaults and overrides applied)")
    _add_recipe_args(show)
    show.set_defaults(func=cmd_show)
    lst = sub.add_parser(
        "list", help="list components with their plugin and parameters (default, description)"
    )
    lst.add_argument(
        "kind",
        nargs="?",
        choices=[*KINDS, "recipes"],
    )
    lst.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="each parameter's whole description, not shortened to one line",
    )
    lst.set_defaults(func=cmd_list)
    plugins = sub.add_parser("plugins", help="list loaded plugins, their hooks and components")
    plugins.set_defaults(func=cmd_plugins)
    _add_plugins_new(plugins)
    return parser


def _run_dir_of(exc: BaseException) -> Path | None:
    """The run folder the failed command was working in, read from the traceback's frames:
    the innermost `Run`'s folder, else the innermost ``run_dir``; only one that holds a run.log
    (a folder not yet made, or removed again, gets none)."""
    from jepa_framework.pipeline.run import Run

    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        local = frame.f_locals
        found = [v.dir for v in local.values() if isinstance(v, Run)]
        found += [local["run_dir"]] if isinstance(local.get("run_dir"), Path) else []
        for folder in found:
            if (folder / "run.log").is_file():
                return folder
    return None


def record_failure(exc: BaseException, message: str) -> Path | None:
    """Append ``message`` and the traceback of ``exc`` (a plugin fault's original one) to the
    run.log of the run it happened in, if any; returns that file."""
    import logging

    shown = getattr(exc, "original", None) or exc
    run_dir = _run_dir_of(shown)
    if run_dir is None:
        return None
    path = run_dir / "run.log"
    record = logging.LogRecord("jepa_framework", logging.ERROR, __file__, 0, "%s", (message,), None)
    record.exc_info = (type(shown), shown, shown.__traceback__)
    text = logging.Formatter("%(asctime)s %(levelname)s %(message)s").format(record)
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text + "\n")
    except OSError:  # run.log is a record, not a reason to hide the error
        return None
    return path


def _report(exc: JepaError) -> int:
    """Print a user-facing error as one paragraph (a plugin fault's traceback too, when
    JEPA_TRACEBACK=1) and record it with its traceback in run.log when there is a run."""
    from jepa_framework.plugin.faults import PluginFault, traceback_wanted

    original = exc.original if isinstance(exc, PluginFault) else exc
    logged = record_failure(original, f"jepa: error: {exc}")
    if isinstance(exc, PluginFault) and traceback_wanted():
        traceback.print_exception(original, file=sys.stderr)
    where = (
        f" The full traceback is in {logged}." if logged and isinstance(exc, PluginFault) else ""
    )
    print(f"jepa: error: {exc}{where}", file=sys.stderr)
    return exc.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A `JepaError` (the user's input, or a plugin's fault) is one paragraph
    and exit code 2. Any other exception raised in a plugin's code becomes such a paragraph
    naming the plugin, its component and the method (`jepa_framework.plugin.faults`); one raised in
    the framework's own code is a bug and surfaces as a traceback. Either way it is written,
    with its traceback, to run.log when a run folder exists."""
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler, not at exit
        return code
    except JepaError as exc:
        return _report(exc)
    except KeyboardInterrupt as exc:
        record_failure(exc, "jepa: interrupted")
        print("jepa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `jepa list | head`: the reader left; that is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 0
    except Exception as exc:
        from jepa_framework.plugin.faults import attribute

        try:
            fault = attribute(exc)
        except Exception:  # never hide the original error behind one of the attribution's
            fault = None
        if fault is None:  # the framework's own bug: its traceback is the report
            record_failure(exc, f"jepa: internal error (a bug in jepa-framework): {exc!r}")
            raise
        return _report(fault)


if __name__ == "__main__":
    sys.exit(main())
