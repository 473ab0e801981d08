"""Recipes: safe YAML, typed sections structured with cattrs, command-line overrides,
and the one-paragraph problems a bad recipe is reported with.
"""
