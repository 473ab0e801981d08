"""The JEPA module (encoder, EMA target encoder, predictor rollout), frame-wise encoding,
encoding whole sequences, and collapse diagnostics.
"""
