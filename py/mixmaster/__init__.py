"""MixMasterAI's signal package: BS.1770 metering and a true-peak-safe mastering chain.

Runs unchanged in CPython >= 3.11 and in Pyodide 0.27.8, on numpy and scipy only.

Array layout, stated once for the whole package: audio is a floating-point ``numpy`` array of
shape ``(channels, samples)`` -- the layout of WebAudio's per-channel buffers. Anything else is
rejected at the edge (:func:`mixmaster.audio.as_audio`); no function guesses which axis is which.
"""

__version__ = "0.1.0"
