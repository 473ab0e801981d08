"""Helpers for the tests that run the code shown in README.md and docs/ (and the tutorial
notebook): finding fenced blocks, running a Python snippet at tiny sizes, and reading the
``jepa ...`` command lines out of a shell block."""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

import jepa_framework
from jepa_framework.testing import TINY_OVERRIDES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: a run folder a snippet reopens: in a test, the run the snippet trained above it
PLACEHOLDER = re.compile(r"results/\w+_<timestamp>")
#: an evaluation that still runs every probe, baseline and control, on little data
SMALL_EVAL = (
    "eval.trajectories=8",
    "eval.horizon=10",
    "eval.probe_samples=64",
    "eval.probe_steps=3",
)
#: a fenced block, at any indent (in a list item or admonition too), with its info string
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w+-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$",
    re.S | re.M,
)


@attrs.frozen
class Block:
    """One fenced code block of a Markdown page: its language, body (dedented), and where."""

    page: Path
    index: int  # 1-based, among the page's blocks of the same language
    lang: str
    body: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.lang or 'text'}{self.index}"


def blocks(page: Path, lang: str | None = None) -> list[Block]:
    """The fenced blocks of ``page`` (of language ``lang``, "" for untagged ones), in order."""
    found: list[Block] = []
    counts: dict[str, int] = {}
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        kind = match["lang"]
        if lang is not None and kind != lang:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        indent = len(match["indent"])
        body = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        found.append(Block(page, counts[kind], kind, textwrap.dedent(body)))
    return found


def python_snippets(text: str) -> list[str]:
    """The bodies of the top-level ```python blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def run_python(source: str, name: str, tmp_path: Path, monkeypatch: Any) -> list[Path]:
    """Execute a snippet as written, at tiny sizes, in ``tmp_path``; returns the runs it trained.

    ``jepa_framework.train`` gets the tiny overrides first (the snippet's own overrides still
    win where they name the same key) and writes under ``tmp_path/results``; a placeholder run
    folder (``results/<name>_<timestamp>``) means the run the snippet trained above it.
    """
    trained: list[Path] = []
    real_train = jepa_framework.train

    def tiny_train(recipe, overrides=(), **kwargs):
        extra = [*TINY_OVERRIDES, *SMALL_EVAL, f"output.dir={tmp_path / 'results'}"]
        run = real_train(recipe, [*extra, *overrides], **kwargs)
        trained.append(run.path)
        return run

    monkeypatch.setattr(jepa_framework, "train", tiny_train)
    monkeypatch.chdir(tmp_path)
    source = PLACEHOLDER.sub(lambda _: "__trained_run__", source)
    source = source.replace('"__trained_run__"', "str(__trained__[-1])")
    namespace = {"__trained__": trained, "__name__": "docs_snippet"}
    exec(compile(source, name, "exec"), namespace)
    return trained


@attrs.frozen
class Command:
    """One shell command of a block: its tokens, and the output shown under it (console)."""

    tokens: tuple[str, ...]
    output: tuple[str, ...] = ()

    def jepa_args(self) -> list[str] | None:
        """The arguments of a ``jepa`` / ``uv run jepa`` / ``python -m jepa_framework``
        (``torchrun ... -m jepa_framework``) command; None for any other command."""
        tokens = list(self.tokens)
        if tokens[:2] == ["uv", "run"] and tokens[2:3] == ["jepa"]:
            return tokens[3:]
        if tokens[:1] == ["jepa"]:
            return tokens[1:]
        for i in range(len(tokens) - 1):
            if tokens[i] == "-m" and tokens[i + 1] == "jepa_framework":
                return tokens[i + 2 :]
        return None


def shell_commands(body: str, console: bool) -> Iterator[Command]:
    """The commands of a bash block, or of a console block (its ``$ `` lines, with the output
    lines under each): continuation lines joined, comments dropped, split at ``&&``, ``;``,
    ``||`` and ``|``."""
    lines = re.sub(r"\\\n\s*", " ", body).splitlines()
    pending: list[tuple[str, list[str]]] = []
    for line in lines:
        if console and not line.startswith("$ "):
            if pending:
                pending[-1][1].append(line)
            continue
        pending.append((line[2:] if console else line, []))
    for line, output in pending:
        command: list[str] = []
        for token in [*shlex.split(line, comments=True), "&&"]:
            if token in ("&&", ";", "||", "|"):
                if command:
                    yield Command(tuple(command), tuple(output))
                command = []
            else:
                command.append(token)
