"""How a benchmark table says where it came from, and how a new table reaches README."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path


def _relative(arg: str) -> str:
    """An absolute path inside the working directory as a relative one (no machine paths)."""
    path = Path(arg)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        return path.relative_to(Path.cwd()).as_posix() + ("/" if arg.endswith("/") else "")
    return arg


def stamp() -> str:
    """``"`uv run python benchmarks/<script> <args>`, <UTC time>+00:00"`` for this process."""
    args = [_relative(arg) for arg in sys.argv[1:]]
    command = " ".join(["uv run python", f"benchmarks/{Path(sys.argv[0]).name}", *args])
    return f"`{command}`, {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M}+00:00"


def publish(path: Path, lines: list[str], footer: str, readme: bool = True) -> None:
    """Write a Markdown table and its footer to ``path``, print it, refresh README's copy."""
    path.write_text("\n".join([*lines, "", footer]) + "\n")
    print(path.read_text())
    if readme:
        import sync_readme  # a sibling module

        sync_readme.main([])
