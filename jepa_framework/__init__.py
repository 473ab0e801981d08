"""jepa-framework: learn dynamics with Joint Embedding Predictive Architectures, via plugins.

Importing this package is cheap (no torch): plugin modules import ``hookimpl`` from here.
"""

from typing import Any

from jepa_framework import _moved
from jepa_framework.plugin.spec import hookimpl

_moved.install()  # the flat layout's module paths (jepa_framework.data, ...) still import

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__", "train", "load_run", "LoadedRun"]

#: the Python API, imported on first use so that `import jepa_framework` stays cheap
_API = {"train", "load_run", "LoadedRun"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from jepa_framework import api

        return getattr(api, name)
    raise AttributeError(f"module 'jepa_framework' has no attribute {name!r}")
