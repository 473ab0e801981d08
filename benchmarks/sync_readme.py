"""Copy the committed result tables into README.md and the docs pages, between markers.

README.md and every Markdown page under docs/ may hold blocks of the form::

    <!-- table: benchmarks/tables/results_pendulum.md -->
    ...generated content...
    <!-- /table -->

The path in the marker is relative to the repository root, wherever the page is. The table files
link their figures relative to the repository root too; in a page below the root those links are
rewritten relative to the page (``benchmarks/tables/x.png`` becomes
``../../benchmarks/tables/x.png`` in ``docs/results/index.md``), so they resolve in the
repository and on the documentation site.

``uv run python benchmarks/sync_readme.py`` rewrites every block from its file;
``--check`` exits 1 (naming the stale blocks) when a page and the files disagree, which is what
``tests/test_readme_tables.py`` runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- table: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
#: a Markdown link or image whose target is a relative path (not a URL, anchor or absolute path)
LINK = re.compile(r"(\]\()(?![a-zA-Z][a-zA-Z0-9+.-]*:|[#/])([^)\s]+)(\))")


def relink(body: str, root: Path, base: Path) -> str:
    """``body``'s relative links, written from ``root``, rewritten to resolve from ``base``."""
    if base.resolve() == root.resolve():
        return body
    start = os.path.relpath(base.resolve(), root.resolve())

    def move(match: re.Match[str]) -> str:
        target = Path(os.path.relpath(match[2], start)).as_posix()
        return f"{match[1]}{target}{match[3]}"

    return LINK.sub(move, body)


def render(text: str, root: Path = ROOT, base: Path | None = None) -> tuple[str, list[str]]:
    """A page's text with every block refreshed, and the paths of blocks that changed.

    ``root`` is where the markers' paths start; ``base`` is the folder of the page (default
    ``root``), against which the tables' links are rewritten.
    """
    base = root if base is None else base
    stale: list[str] = []

    def refresh(match: re.Match[str]) -> str:
        path = root / match["path"]
        if not path.is_file():
            raise SystemExit(f"a table block names {match['path']}, which does not exist")
        body = relink(path.read_text().rstrip("\n") + "\n", root, base)
        if body != match["body"]:
            stale.append(match["path"])
        return f"{match[1]}{body}{match[4]}"

    return BLOCK.sub(refresh, text), stale


def pages(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown page under docs/, the files whose blocks are kept in sync."""
    found = [root / "README.md"] if (root / "README.md").is_file() else []
    return found + sorted((root / "docs").rglob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="repository root: README.md and docs/**/*.md"
    )
    parser.add_argument(
        "--readme", type=Path, help="sync this one file instead (marker paths from its folder)"
    )
    args = parser.parse_args(argv)
    if args.readme is not None:
        targets = [(args.readme, args.readme.parent)]
    else:
        targets = [(page, args.root) for page in pages(args.root)]
    stale_pages = 0
    for page, root in targets:
        text = page.read_text()
        new, stale = render(text, root, page.parent)
        name = page.relative_to(root) if page.is_relative_to(root) else page
        if args.check:
            for path in stale:
                print(f"{name}: block from {path} is stale; run benchmarks/sync_readme.py")
        elif new != text:
            page.write_text(new)
        stale_pages += bool(stale)
    if args.check:
        return 1 if stale_pages else 0
    print(f"{stale_pages} page(s) updated" if stale_pages else "table blocks are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
