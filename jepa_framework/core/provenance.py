"""Which code produced a dataset: part of its cache key, so edited code never serves stale data.

A class from an installed distribution is identified by the distribution's name and version. An
editable install (``pip install -e``) keeps its version while its code changes, and unpackaged
code has no version at all, so for those the Python source next to the class is hashed too: the
``.py`` files of its package directory (a dataset's helpers usually live beside it), or the
module file alone for a top-level module.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as metadata
import json
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse


@functools.lru_cache(maxsize=1)
def _editable_roots() -> tuple[tuple[Path, str, str], ...]:
    """(source directory, name, version) of every editable install."""
    roots = []
    for dist in metadata.distributions():
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except (OSError, ValueError):
            continue
        if direct.get("dir_info", {}).get("editable") and direct.get("url", "").startswith("file:"):
            path = Path(unquote(urlparse(direct["url"]).path)).resolve()
            roots.append((path, dist.metadata["Name"], dist.version))
    return tuple(roots)


def _distribution(module_name: str, file: Path | None) -> tuple[str, str, bool] | None:
    """(name, version, editable) of the distribution that provides ``module_name``, if any."""
    top = module_name.partition(".")[0]
    try:
        names = metadata.packages_distributions().get(top)
    except Exception:  # a broken installed distribution must not stop a run: hash the source
        names = None
    if names:
        dist = metadata.distribution(names[0])
        return dist.metadata["Name"], dist.version, False
    if file is not None:  # editable installs map no modules; match their source directory
        for root, name, version in _editable_roots():
            if file.is_relative_to(root):
                return name, version, True
    return None


def _source_hash(module_name: str, file: Path) -> str:
    """Hash of the module's package directory (its ``.py`` files), or of the module alone."""
    files = sorted(file.parent.glob("*.py")) if "." in module_name else [file]
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def code_identity(cls: type) -> tuple[tuple[str, str], ...]:
    """Pairs naming the code behind ``cls``: distribution==version and/or a source hash."""
    module = sys.modules.get(cls.__module__)
    raw_file = getattr(module, "__file__", None)
    file = Path(raw_file).resolve() if raw_file else None
    found = _distribution(cls.__module__, file)
    identity = []
    if found is not None:
        identity.append(("distribution", f"{found[0]}=={found[1]}"))
    if file is not None and file.suffix == ".py" and (found is None or found[2]):
        identity.append(("source", _source_hash(cls.__module__, file)))
    return tuple(identity)
