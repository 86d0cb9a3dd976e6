"""The tabular network family: encoder, plain or residual MLP blocks, TabM-style ensembling.

One network covers the architectures of the tabular space: a :class:`FeatureEncoder` for the
continuous columns, then ``n_blocks`` blocks of one width, either plain (linear, norm,
activation, dropout, as the MLPs of TabM and RealMLP) or residual (pre-norm blocks of two
linear layers around the activation, as the ResNet of Gorishniy et al., NeurIPS 2021), then a
linear head.

With ``k > 1`` the network is a parameter-efficient ensemble in the style of TabM (Gorishniy
et al., ICLR 2025), built from the authors' ``tabm`` package: every linear layer of the
blocks becomes a BatchEnsemble layer (one shared weight matrix, per-member scaling vectors
and biases; the first layer's input scaling random, the others starting at one, per-column
chunks after embeddings, as TabM initialises), batch norms become per-member batch norms and
the head one linear layer per member. In training mode the network returns every member's
output, ``(batch, k, outputs)``, and the trainer averages the members' losses
(:func:`~automl_nas.training.member_loss`), so the members learn together; in eval mode it
returns their mean. The mean is taken over the members' raw outputs (logits for a
classifier: a normalised geometric mean of their probabilities, where TabM averages the
probabilities themselves) so that the network stays one module with one output whatever the
task.
"""

from __future__ import annotations

import tabm
import torch
from torch import nn

from automl_nas.nn._dropout import Dropout
from automl_nas.nn._missing import MissingFill
from automl_nas.nn._mlp import ACTIVATIONS, make_norm
from automl_nas.nn._numeric import FeatureEncoder, sample_rows

BLOCKS = ("mlp", "resnet")


class ResidualBlock(nn.Module):
    """``x + dropout(linear(dropout(act(linear(norm(x))))))``: a pre-norm residual block."""

    def __init__(self, width: int, activation: str, norm: str, dropout: float) -> None:
        super().__init__()
        self.norm = make_norm(norm, width)
        self.linear1 = nn.Linear(width, width)
        self.act = ACTIVATIONS[activation]()
        self.drop1 = Dropout(dropout)
        self.linear2 = nn.Linear(width, width)
        self.drop2 = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop2(self.linear2(self.drop1(self.act(self.linear1(self.norm(x))))))


def _body(
    n_in: int, block: str, n_blocks: int, width: int, activation: str, norm: str, dropout: float
) -> nn.Sequential:
    """The blocks between the encoder and the head (their first layer is the first linear)."""
    if block == "mlp":
        layers: list[nn.Module] = []
        for i in range(n_blocks):
            layers += [
                nn.Linear(n_in if i == 0 else width, width),
                make_norm(norm, width),
                ACTIVATIONS[activation](),
                Dropout(dropout),
            ]
        return nn.Sequential(*layers)
    if block == "resnet":
        return nn.Sequential(
            nn.Linear(n_in, width),
            *(ResidualBlock(width, activation, norm, dropout) for _ in range(n_blocks)),
            make_norm(norm, width),
            ACTIVATIONS[activation](),
        )
    raise ValueError(f"Unknown block {block!r}; choose from {BLOCKS}")


class TabularNet(nn.Module):
    """Encoder, blocks and head; an ensemble of ``k`` members sharing most weights if ``k > 1``.

    Args:
        encoder: The input layer (transform and embeddings of the continuous columns).
        n_outputs: Outputs of the head (classes, or regression targets).
        block: ``"mlp"`` or ``"resnet"``.
        n_blocks: Blocks of the body.
        width: Width of every block.
        activation: A name of :data:`~automl_nas.nn.ACTIVATIONS`.
        norm: ``"none"``, ``"batch"`` or ``"layer"``.
        dropout: Dropout rate inside the blocks.
        k: Ensemble members (1: a single network).
        missing: Fills and flags the NaN of the input before the encoder (None: the input has
            none); the encoder then reads the input's columns and the indicators.
    """

    def __init__(
        self,
        encoder: FeatureEncoder,
        n_outputs: int,
        *,
        block: str = "mlp",
        n_blocks: int = 2,
        width: int = 256,
        activation: str = "relu",
        norm: str = "none",
        dropout: float = 0.0,
        k: int = 1,
        missing: MissingFill | None = None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        if k < 1 or n_blocks < 1 or width < 1:
            raise ValueError(f"need k, n_blocks and width >= 1, got {k}, {n_blocks}, {width}")
        self.k = k
        self.register_module("missing", missing)
        self.encoder = encoder
        self.body = _body(encoder.out_features, block, n_blocks, width, activation, norm, dropout)
        if k == 1:
            self.head: nn.Module = nn.Linear(width, n_outputs)
            return
        self.view = tabm.EnsembleView(k=k)
        first = self.body[0]
        embedded = any(chunk > 1 for chunk in encoder.chunks)
        tabm.batchensemble_linear_layers_(
            self.body,
            include=[first],
            k=k,
            # TabM's initialisation: random input scaling per member (equal within one
            # column's embedding), every other scaling starts at one.
            scaling_init=("normal" if embedded else "random-signs", "ones"),
            first_scaling_init_chunks=list(encoder.chunks),
        )
        tabm.batchensemble_linear_layers_(self.body, k=k, scaling_init="ones")
        tabm.ensemble_batchnorm1d_layers_(self.body, k=k)
        self.head = tabm.LinearEnsemble(width, n_outputs, k=k)

    @torch.no_grad()
    def init_from_data(self, X: torch.Tensor) -> None:
        """The encoder's statistics from the training rows (the trainer calls this first):
        from a sample of them, filled as the forward pass fills them, and flagged only if the
        encoder transforms an indicator column (it never does when the space built it: two
        values are not continuous; the flags doubled the sample, 57 MiB on 3,750 x 2,000)."""
        missing = self._modules.get("missing")
        if missing is not None:
            X = sample_rows(X)
            continuous = self.encoder.continuous
            flagged = len(continuous) and int(continuous.max()) >= X.shape[1]
            X = missing(X) if flagged else missing.filled(X)
        self.encoder.init_from_data(X)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = self._modules.get("missing")  # absent from networks pickled before it
        if missing is not None:
            x = missing(x)
        h = self.encoder(x)
        if self.k == 1:
            return self.head(self.body(h))
        out = self.head(self.body(self.view(h)))
        return out if self.training else out.mean(dim=1)

