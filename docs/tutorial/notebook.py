# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Train, reopen and forecast from Python
#
# This notebook trains the `circle` recipe (a point moving on a circle at a speed of its own),
# reopens the finished run with the Python API, and plots a forecast against the true
# trajectory. It runs in well under a minute on a laptop CPU. Open `docs/tutorial/notebook.ipynb` in
# Jupyter, or run this file, its jupytext twin, as a script: `uv run python
# docs/tutorial/notebook.py`.
#
# The test suite runs it too (`tests/test_notebook.py`), with `JEPA_TUTORIAL_TINY=1`, which
# swaps in `jepa_framework.testing.TINY_OVERRIDES` so it trains in seconds.

# %%
import os

import matplotlib.pyplot as plt

import jepa_framework
from jepa_framework.testing import TINY_OVERRIDES

TINY = os.environ.get("JEPA_TUTORIAL_TINY") == "1"  # the test suite's tiny sizes
if TINY:
    overrides = [*TINY_OVERRIDES, "eval.enabled=false"]
    steps = 20
else:  # fewer sequences and epochs than the recipe's: seconds on a CPU
    overrides = ["data.dataset.size=1000", "train.epochs=20", "eval.enabled=false"]
    steps = 100

# %% [markdown]
# ## Train
#
# `jepa_framework.train` does exactly what `jepa run circle ...` does: it trains the JEPA,
# fits the decoder, writes a run directory under `results/` and returns the finished run.

# %%
run = jepa_framework.train("circle", overrides)
print(run.path)
print("final validation loss:", run.metrics["jepa"]["val_loss"])

# %% [markdown]
# ## Reopen
#
# A finished run reopens from its directory, in a later session too: its typed recipe, its
# dataset and its networks, in eval mode.

# %%
run = jepa_framework.load_run(run.path, device="cpu")
print(run.recipe.name, "history:", run.history, "frames; observations:", run.dataset.obs_shape)

# %% [markdown]
# ## Forecast
#
# `run.sample` draws fresh trajectories from the dataset (not seen in training). The model
# gets the first `run.history` frames of each and forecasts the next `steps` frames; the rest
# of the sampled trajectory is the truth to compare with.

# %%
stored, states = run.sample(n=2, frames=run.history + steps, seed=7)
context = stored[:, : run.history]
observed = run.dataset.to_float(stored)  # float observations [2, history + steps, 2]
truth = observed[:, run.history :]
forecast = run.forecast(context, steps=steps)  # [2, steps, 2]: x, y of each trajectory
print("forecast", tuple(forecast.shape), "mean squared error:", (forecast - truth).pow(2).mean())

# %% [markdown]
# ## Plot the forecast against the truth
#
# One trajectory: its x and y coordinates against the time step, the truth (context frames
# included) as solid lines and the forecast as dashed ones, starting where the context ends.

# %%
fig, ax = plt.subplots(figsize=(8, 4))
ahead = range(run.history, run.history + steps)
for channel, (name, color) in enumerate([("x", "tab:blue"), ("y", "tab:orange")]):
    ax.plot(observed[0, :, channel], color=color, label=f"{name}: truth")
    ax.plot(ahead, forecast[0, :, channel], color=color, linestyle="--", label=f"{name}: forecast")
ax.axvline(run.history - 0.5, color="gray", linewidth=0.8, label="end of the context")
ax.set_xlabel("time step (frames after the start of the trajectory)")
ax.set_ylabel("coordinate")
ax.set_title(f"{run.recipe.name}: forecast from {run.history} context frames vs. the truth")
ax.legend(loc="upper right", fontsize="small")
fig.tight_layout()
plt.show()
