"""What a baseline may learn from: the training data, the context and the JEPA's budget.

The report (:func:`jepa_framework.evaluate.report.make_baselines`) fills one
:class:`BaselineInputs` from the recipe and the run; each kind of observation's scoring
(:meth:`jepa_framework.evaluate.scoring.Scoring.baselines`) picks from it what its baselines
need. One bundle, rather than the recipe itself, keeps scorings free of recipe keys, so a
plugin's scoring sees the same budget as the built-in ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import attrs
import torch
from torch import nn

from jepa_framework.datasets.batches import Clips
from jepa_framework.evaluate.matched_budget import Budget


@attrs.frozen
class BaselineInputs:
    """What baselines may learn from: training data, the context length and the JEPA's budget.

    ``train(n)`` returns float observations [N, T, *obs] of the first ``n`` training
    trajectories (all of them for ``None``). ``budget`` holds every phase the JEPA's forecaster
    trained in (phase 1, then the refit when the recipe has one): a trained baseline runs them
    all, in order, at every multiple of them in ``budgets``. ``networks()`` builds the recipe's
    own encoder, predictor and decoder afresh (seeded, on the run's device) and
    ``clips(length, batch_size)`` draws the JEPA's kind of training clips (seeded); both are
    None where the recipe's own networks are not trained (``eval.baselines: false``).
    """

    train: Callable[[int | None], torch.Tensor]
    context: int
    sequence_length: int
    budget: Budget
    supervised: bool  # train the supervised baselines (eval.baselines)
    hidden: int
    seed: int
    history: int = 1
    budgets: tuple[int, ...] = (1,)
    networks: Callable[[], tuple[nn.Module, nn.Module, nn.Module]] | None = None
    clips: Callable[[int, int], Clips] | None = None
    precision: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    # the recipe's closed-form decoder (decoder_train.solver least_squares), applied to the
    # supervised baseline's trained model too; None where the recipe's decoder trains by gradient
    solve_decoder: Callable[[nn.Module], None] | None = None
