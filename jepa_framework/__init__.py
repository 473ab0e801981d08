"""jepa-framework: learn dynamics with Joint Embedding Predictive Architectures, via plugins.

Importing this package is cheap (no torch): plugin modules import ``hookimpl`` from here.
"""

from jepa_framework.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]
