"""Data: the dataset base classes plugins subclass, the chunked memory-mapped cache,
training clips, windows, what observations are, and rendering frames for figures and video.
"""
