"""MkDocs hooks: links from a docs page to files of the repository outside ``docs/``.

Pages under ``docs/`` link to repository files with ordinary relative paths
(``../benchmarks/tables/pendulum_forecast.png``, ``../jepa_framework/plugin/spec.py``), which work
when the Markdown is read in the repository. The site only holds ``docs/``, so here:

- the figures of ``benchmarks/tables/`` are added to the site (under ``repo/benchmarks/tables/``)
  and links to them are pointed there;
- any other link that leaves ``docs/`` but names an existing repository file or folder becomes
  its path as inline code, since the site has no copy of it.

A link that leaves ``docs/`` and names nothing in the repository is left alone, so
``mkdocs build --strict`` still fails on it, as on any other broken link.

A page line ``<!-- notebook: notebook.py -->`` (a path relative to the page) is replaced by that
jupytext percent-format notebook as Markdown: its Markdown cells as text, its code cells as
Python blocks. The tutorial notebook is shown that way (docs/tutorial/notebook.md), with no
notebook plugin or kernel needed to build the site.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent
#: repository files copied into the site, by glob relative to the repository root
SITE_ASSETS = ("benchmarks/tables/*.png",)
PREFIX = "repo"
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]+)\)")
NOTEBOOK = re.compile(r"^<!-- notebook: (?P<path>\S+) -->[ ]*$", re.M)
#: the YAML header jupytext writes at the top of a percent-format script
JUPYTEXT_HEADER = re.compile(r"\A# ---\n.*?^# ---\n", re.S | re.M)


def on_files(files, config):
    for pattern in SITE_ASSETS:
        for path in sorted(ROOT.glob(pattern)):
            uri = f"{PREFIX}/{path.relative_to(ROOT).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def _outside(target: str, page_dir: str) -> str | None:
    """The repository path a relative link resolves to, when that lies outside docs/."""
    if re.match(r"^[a-z][a-z0-9+.-]*:|^[#/]", target, re.I):
        return None
    path = target.split("#", 1)[0]
    resolved = posixpath.normpath(posixpath.join("docs", page_dir, path))
    if resolved.startswith("docs/") or resolved.startswith(".."):
        return None
    return resolved


def _rewrite(text: str, page_dir: str) -> str:
    def replace(match: re.Match[str]) -> str:
        repo_path = _outside(match["target"], page_dir)
        if repo_path is None or not (ROOT / repo_path).exists():
            return match[0]
        if any(Path(repo_path).match(p) for p in SITE_ASSETS):
            asset = posixpath.relpath(f"{PREFIX}/{repo_path}", page_dir or ".")
            return f"{match['bang']}[{match['text']}]({asset})"
        label = match["text"].strip("`")
        code = f"`{repo_path}`"
        return code if label in (repo_path, repo_path.rstrip("/"), "") else f"{label} ({code})"

    return LINK.sub(replace, text)


def notebook_markdown(path: Path) -> str:
    """A jupytext percent-format script as Markdown: text cells as text, code cells fenced."""
    text = JUPYTEXT_HEADER.sub("", path.read_text(encoding="utf-8"))
    parts = []
    for cell in re.split(r"^# %%", text, flags=re.M)[1:]:
        head, _, body = cell.partition("\n")
        if "[markdown]" in head:
            lines = body.strip().splitlines()
            parts.append("\n".join(re.sub(r"^# ?", "", line) for line in lines))
        elif body.strip():
            parts.append(f"```python\n{body.strip()}\n```")
    return "\n\n".join(parts) + "\n"


def on_page_markdown(markdown, page, config, files):
    page_dir = posixpath.dirname(page.file.src_uri)
    docs = Path(config["docs_dir"])
    markdown = NOTEBOOK.sub(
        lambda m: notebook_markdown(docs / page_dir / m["path"]).rstrip("\n"), markdown
    )
    out, last = [], 0
    for fence in FENCE.finditer(markdown):
        out.append(_rewrite(markdown[last : fence.start()], page_dir))
        out.append(fence[0])
        last = fence.end()
    out.append(_rewrite(markdown[last:], page_dir))
    return "".join(out)
