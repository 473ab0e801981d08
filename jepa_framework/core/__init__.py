"""Foundations every layer uses: errors, component protocols, validators, threads, seeds,
distributed helpers, console progress and provenance. Knows no dataset, model or run.
"""
