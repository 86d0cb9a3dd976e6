"""Decoders: raw network outputs -> what the metric and the user read.

Plain module-level functions, so a search spec that names them can be read back by a
loader that only admits known functions (``automl_nas.search`` allows these).
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax


def probabilities(output: np.ndarray) -> np.ndarray:
    """Class probabilities (float64) from network logits."""
    return softmax(output.astype(np.float64), axis=1)


def target_units(output: np.ndarray, *, mean: np.ndarray, scale: np.ndarray, ravel: bool) -> np.ndarray:
    """Standardised network outputs back in the units of ``y`` (float64; 1-D for a 1-D ``y``)."""
    pred = output.astype(np.float64) * scale + mean
    return pred.ravel() if ravel else pred
