"""jepa-lorenz: an example jepa-framework plugin (Lorenz-63 dataset, GRU predictor, a recipe)."""

__version__ = "0.1.0"
