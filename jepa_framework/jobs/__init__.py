"""Orchestration: running a recipe end to end, sweeps over overrides, local and Slurm
launchers.
"""
