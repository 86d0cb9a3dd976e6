"""Networks built from sampled parameters."""

from automl_nas.nn._mlp import ACTIVATIONS, MLP, NORMS, DenseBlock

__all__ = ["ACTIVATIONS", "MLP", "NORMS", "DenseBlock"]
