"""Input handling: turning user data into tensors a network trains on."""

from automl_nas.data._image import ImageScaler, flatten_images
from automl_nas.data._split import train_validation_split
from automl_nas.data._tabular import make_preprocessor

__all__ = ["ImageScaler", "flatten_images", "make_preprocessor", "train_validation_split"]
