"""One run's pipeline: assembling components from a recipe, the training loops, the
refit and decoder phases, checkpoints, the run folder and its artifacts.
"""
