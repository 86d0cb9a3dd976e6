"""Image inputs: flat rows for the estimator API, one global scale for all pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def flatten_images(X: Any, image_shape: tuple[int, ...] | None) -> tuple[Any, tuple[int, ...] | None]:
    """``X`` as (n, features) rows plus the (C, H, W) shape each row holds, if images.

    Arrays of shape (n, C, H, W) or (n, H, W) (one channel) are flattened; 2-D rows are taken
    as images when ``image_shape`` is given. Anything else passes through with no image shape.
    """
    ndim = getattr(X, "ndim", 2)
    if ndim in (3, 4):
        X = np.asarray(X)
        shape = X.shape[1:] if ndim == 4 else (1, *X.shape[1:])
        if image_shape is not None and tuple(image_shape) != shape:
            raise ValueError(f"X holds images of shape {shape} but image_shape={image_shape}")
        return X.reshape(len(X), -1), shape
    if image_shape is None:
        return X, None
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W) or (H, W), got {image_shape}")
    return X, shape


class ImageScaler(TransformerMixin, BaseEstimator):
    """Standardise all pixels with one mean and one standard deviation.

    Per-pixel scaling (as for tabular columns) would blow up always-black border pixels and
    break the translation structure convolutions rely on.
    """

    def fit(self, X: np.ndarray, y: Any = None) -> ImageScaler:
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = float(np.nanmean(X))
        self.scale_ = float(np.nanstd(X)) or 1.0
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = (np.asarray(X, dtype=np.float32) - self.mean_) / self.scale_
        return np.nan_to_num(X, nan=0.0)
