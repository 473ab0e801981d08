"""Copy the committed result tables into README.md, between markers, so README never drifts.

README holds blocks of the form::

    <!-- table: benchmarks/tables/results_pendulum.md -->
    ...generated content...
    <!-- /table -->

``uv run python benchmarks/sync_readme.py`` rewrites every block from its file;
``--check`` exits 1 (naming the stale blocks) when README and the files disagree, which is what
``tests/test_readme_tables.py`` runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- table: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def render(readme: str, root: Path = ROOT) -> tuple[str, list[str]]:
    """README text with every block refreshed, and the paths of blocks that changed."""
    stale: list[str] = []

    def refresh(match: re.Match[str]) -> str:
        path = root / match["path"]
        if not path.is_file():
            raise SystemExit(f"README names {match['path']}, which does not exist")
        body = path.read_text().rstrip("\n") + "\n"
        if body != match["body"]:
            stale.append(match["path"])
        return f"{match[1]}{body}{match[4]}"

    return BLOCK.sub(refresh, readme), stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    new, stale = render(text, args.readme.parent)
    if args.check:
        for path in stale:
            print(f"README block from {path} is stale; run benchmarks/sync_readme.py")
        return 1 if stale else 0
    if new != text:
        args.readme.write_text(new)
    print(f"{len(stale)} block(s) updated" if stale else "README tables are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
