"""The input layer of a tabular network: how continuous columns are transformed and embedded.

The preprocessor hands every network the same standardised matrix; which transform and which
embedding suit the continuous columns is a searched choice, so it lives here, as a layer whose
statistics come from the training rows (:meth:`FeatureEncoder.init_from_data`, called by the
trainer) and are kept as buffers: a saved network restores them from its state dict.

Transforms (``NUMERIC_TRANSFORMS``):
- ``"standard"``: the preprocessor's standardisation, unchanged.
- ``"quantile"``: each column mapped through its training quantiles to normal scores, ties
  mapped to the middle of their range, as scikit-learn's ``QuantileTransformer(
  output_distribution="normal")`` which TabM's experiments use (Gorishniy et al., ICLR 2025).
- ``"robust_clip"``: centred on the median, scaled by the inter-quantile range and softly
  clipped, ``x / sqrt(1 + (x / 3)^2)``, as RealMLP (Holzmueller et al., NeurIPS 2024).

Embeddings (``EMBEDDINGS``; Gorishniy et al., NeurIPS 2022, "On Embeddings for Numerical
Features in Tabular Deep Learning"):
- ``"none"``: the transformed value itself.
- ``"periodic"``: PLR embeddings, the authors' ``rtdl_num_embeddings.PeriodicEmbeddings``
  (lite: one linear layer shared by all columns).
- ``"piecewise"``: piecewise-linear encoding over the column's quantile bins, then a linear
  layer per column and ReLU. Written here rather than taken from ``rtdl_num_embeddings``:
  its ``PiecewiseLinearEmbeddings`` needs the bins when it is built and gives each column as
  many bins as it has distinct quantiles, so the network's shape would depend on the data;
  here every column has ``n_bins`` bins (a tie makes a bin a step) and the edges are a buffer
  filled from the training rows.

Columns with at most two distinct values (one-hot levels, missing-value indicators, binary
features) pass through unchanged: neither a transform nor an embedding adds anything there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from rtdl_num_embeddings import PeriodicEmbeddings
from torch import nn

NUMERIC_TRANSFORMS = ("standard", "quantile", "robust_clip")
EMBEDDINGS = ("none", "periodic", "piecewise")

#: Training rows the statistics are computed on: quantiles of 20,000 rows are exact enough.
STATS_ROWS = 20_000
#: Quantiles of the ``"quantile"`` transform (scikit-learn's default is 1,000; 128 keep the
#: interpolation cheap and differ from it by less than the noise of a 20,000-row sample).
N_QUANTILES = 128
#: Cells (rows x columns) of the quantile transform at once (one thread, 12,500 x 2,000
#: rows, benchmarks/quantile_parts.py: 2.2 s in parts of 2**20 cells, 5.0 s in parts of
#: 8,192 rows, 6.7 s at once; the first pass, as a trial's validation pass meets it; with
#: the search without branches, later passes 1.2-1.5 s in parts of 2**17-2**20 cells).
QUANTILE_PART_CELLS = 1 << 20
#: Values (columns x rows) from which the knot search is the one without branches
#: (:func:`_first_at_least`); below, ``torch.searchsorted``, whose cost per value is small
#: there while the halvings' ~35 operations cost about 80 us whatever the size (one thread:
#: 512 values 5 against 83 us, 5,120 42 against 158, 10,240 322 against 240; a training
#: batch of a narrow table is a few thousand values).
BRANCH_FREE_VALUES = 8192
#: Normal scores of the extreme quantiles are clipped here, as scikit-learn does (its 1e-7
#: bounds give +-5.2; +-3.7 keeps a rare extreme value from dominating).
QUANTILE_CLIP = 1e-4
#: Bins of the piecewise-linear encoding.
N_BINS = 16
#: Soft-clipping scale of ``"robust_clip"``.
SOFT_CLIP = 3.0


def sample_rows(X: torch.Tensor) -> torch.Tensor:
    """Up to ``STATS_ROWS`` rows of ``X``, evenly strided (deterministic, no RNG)."""
    step = max(1, math.ceil(len(X) / STATS_ROWS))
    return X[::step].float()


def _quantiles(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Per-column quantiles of ``x`` (rows, columns) at ``levels``: (len(levels), columns).

    Linear interpolation between order statistics, as ``torch.quantile``, which refuses
    inputs over 16 million values (20,000 rows of 800 columns). On CPU the columns are sorted
    by numpy, whose vectorised sort took 0.11 s on 3,750 x 2,000 float32 rows where torch's
    took 0.56 s (one thread): the sort was most of a wide table's first trial's set-up
    (issue 14's first trial on 50,000 x 2,000 rows, 11 % of the budget).
    """
    if x.device.type == "cpu" and not x.requires_grad:
        ordered = torch.from_numpy(np.sort(x.numpy(), axis=0))
    else:
        ordered = x.sort(dim=0).values
    position = levels.to(x.device) * (len(x) - 1)
    below = position.floor().long()
    above = position.ceil().long()
    frac = (position - below).unsqueeze(1)
    return ordered[below] + frac * (ordered[above] - ordered[below])


def _tie_middles(knots: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Per knot (columns, n), the middle of the levels of the knots equal to it: its own level
    where the knot is distinct; for a tie (a value many training rows share) the mean of the
    tie's first and last level, where scikit-learn's ``QuantileTransformer`` puts it too."""
    last = torch.searchsorted(knots, knots, right=True) - 1
    return 0.5 * (levels.expand_as(knots) + levels[last])


def _first_at_least(knots: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
    """Per value of ``xt`` (columns, rows), the index of the first of its column's ``knots``
    (columns, n) that is >= it, n beyond the last: what ``torch.searchsorted(knots, xt)``
    gives, from ``BRANCH_FREE_VALUES`` values on by a binary search without branches (one
    gather and compare per halving, the same for every value), by it below.

    On many values twice as fast as ``torch.searchsorted`` on CPU (20-29 against 46 ms on
    524 x 2,000 values of 128 knots, one thread), whose search branches on each value: most of
    a wide table's quantile transform and of its first trial (issue 14). Steps from the largest
    power of two <= n: a probe past the last knot reads the last one, and the count is capped
    at n.
    """
    if xt.numel() < BRANCH_FREE_VALUES:
        return torch.searchsorted(knots, xt)
    n = knots.shape[1]
    step = 1 << (n.bit_length() - 1)
    # The first halving makes ``first`` from both inputs: under vmap it is then batched when
    # either is (members' own knots over one input), so the in-place steps below can add to it.
    first = (knots[:, step - 1 : step] < xt).long() * step
    step >>= 1
    while step:
        probe = (first + (step - 1)).clamp(max=n - 1)
        first.add_(knots.gather(1, probe) < xt, alpha=step)
        step >>= 1
    return first.clamp(max=n)


def _quantile_level(
    x: torch.Tensor, knots: torch.Tensor, levels: torch.Tensor, middles: torch.Tensor
) -> torch.Tensor:
    """The quantile level of ``x`` (batch, columns) through per-column ``knots`` (columns, n)
    at ``levels`` (n,), evenly spaced from 0 to 1: piecewise-linear between the knots, a
    value equal to a knot at its tie's middle (``middles``, from :func:`_tie_middles`), the
    end levels beyond the ends.

    One binary search (the first knot >= x, :func:`_first_at_least`), most of the transform's
    time: a second one from the last knot <= x would give a tie's other end, which
    ``middles`` holds already. The level between two knots is arithmetic on the knot's index
    (the levels are evenly spaced; indexing ``levels`` by it took as long as the search's
    gathers). No operation here has a shape that depends on the values (no ``nonzero``), so
    the transform runs under ``torch.func.vmap`` with every member's own knots (batched
    trials).
    """
    xt = x.t().contiguous()
    n = knots.shape[1]
    first = _first_at_least(knots, xt)
    hi = first.clamp(1, n - 1)
    lo_knot, hi_knot = knots.gather(1, hi - 1), knots.gather(1, hi)
    width = hi_knot - lo_knot
    # Between two knots the one below is the last of its tie, so lo < x < hi and width > 0;
    # width 0 only at a tied end, where the level is the end's (t = 0 below the first knot).
    t = torch.where(width > 0, (xt - lo_knot) / width.clamp_min(1e-12), 0.0).clamp(0.0, 1.0)
    level = (hi - 1 + t) * (1.0 / (n - 1))
    at = first.clamp(max=n - 1)
    level = torch.where(knots.gather(1, at) == xt, middles.gather(1, at), level)
    return torch.where(first == n, levels[-1], level).t()


def _refresh_middles(encoder: FeatureEncoder, incompatible_keys: object) -> None:
    """After ``load_state_dict``: the tie middles of the knots just loaded."""
    with torch.no_grad():
        encoder.middles.copy_(_tie_middles(encoder.knots, encoder.levels))


class PiecewiseLinear(nn.Module):
    """Piecewise-linear encoding of each column over ``n_bins`` quantile bins, then a linear
    layer per column and ReLU: ``(batch, columns)`` -> ``(batch, columns, d_embedding)``."""

    def __init__(self, n_columns: int, d_embedding: int, n_bins: int = N_BINS) -> None:
        super().__init__()
        self.register_buffer("edges", torch.linspace(-2, 2, n_bins + 1).repeat(n_columns, 1))
        bound = n_bins**-0.5
        self.weight = nn.Parameter(torch.empty(n_columns, n_bins, d_embedding).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_columns, d_embedding).uniform_(-bound, bound))

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Bin edges at the training quantiles of each column."""
        levels = torch.linspace(0, 1, self.edges.shape[1], device=x.device)
        self.edges.copy_(_quantiles(x, levels).t())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x, edges = x.float(), self.edges.float()  # see FeatureEncoder._transform
        lo, hi = edges[:, :-1], edges[:, 1:]
        width = hi - lo
        # A zero-width bin (a tie among quantiles) is a step at its edge.
        ratio = (x.unsqueeze(-1) - lo) / width.clamp_min(1e-6)
        ratio = torch.where(width > 0, ratio, (x.unsqueeze(-1) >= lo).to(x.dtype))
        # The first bin extends to the left and the last to the right (values beyond the
        # training range keep a slope), every other one is clipped to [0, 1].
        n = ratio.shape[-1]
        low = torch.full((n,), 0.0, device=x.device, dtype=x.dtype)
        high = torch.full((n,), 1.0, device=x.device, dtype=x.dtype)
        low[0], high[-1] = -math.inf, math.inf
        encoded = torch.maximum(torch.minimum(ratio, high), low).to(dtype)
        out = torch.einsum("bcn,cnd->bcd", encoded, self.weight) + self.bias
        return torch.relu(out)


class FeatureEncoder(nn.Module):
    """Transform, then embed, the continuous columns; pass the others through.

    Output: the flat ``(batch, out_features)`` concatenation of the continuous columns'
    embeddings (or transformed values) and the other columns. ``chunks`` gives the width each
    input column takes in it, which TabM's per-column scaling initialisation uses.

    Args:
        n_features: Columns of the preprocessed input.
        continuous: Indices of the columns to transform and embed (None: all).
        transform: One of ``NUMERIC_TRANSFORMS``.
        embedding: One of ``EMBEDDINGS``.
        d_embedding: Width of each column's embedding.
    """

    def __init__(
        self,
        n_features: int,
        continuous: Sequence[int] | None = None,
        *,
        transform: str = "standard",
        embedding: str = "none",
        d_embedding: int = 16,
    ) -> None:
        super().__init__()
        if transform not in NUMERIC_TRANSFORMS:
            raise ValueError(f"Unknown numeric transform {transform!r}; choose from {NUMERIC_TRANSFORMS}")
        if embedding not in EMBEDDINGS:
            raise ValueError(f"Unknown embedding {embedding!r}; choose from {EMBEDDINGS}")
        cont = list(range(n_features)) if continuous is None else sorted(set(continuous))
        if any(not 0 <= c < n_features for c in cont):
            raise ValueError(f"continuous column indices must be in [0, {n_features}), got {cont}")
        other = sorted(set(range(n_features)) - set(cont))
        self.register_buffer("continuous", torch.tensor(cont, dtype=torch.long), persistent=False)
        self.register_buffer("other", torch.tensor(other, dtype=torch.long), persistent=False)
        # The continuous columns first, then the others (a table's numeric columns, then its
        # indicators and one-hot levels): both are slices of the input, views rather than
        # gathers, and the "standard" transform without an embedding passes the input through.
        self.in_order = cont == list(range(len(cont)))
        self.transform, self.embedding = transform, embedding
        n_cont = len(cont)
        # Statistics of the transform, filled by init_from_data (identity until then).
        self.register_buffer("center", torch.zeros(n_cont))
        self.register_buffer("scale", torch.ones(n_cont))
        quantile_knots = N_QUANTILES if transform == "quantile" else 2
        self.register_buffer("knots", torch.linspace(-3, 3, quantile_knots).repeat(n_cont, 1))
        self.register_buffer("levels", torch.linspace(0, 1, quantile_knots), persistent=False)
        # Each knot's tie middle, from the knots: computed when they are set, not per batch
        # (4 ms on 2,000 columns, a tenth of a training step's transform); not saved, so
        # refreshed whenever the knots are loaded.
        self.register_buffer("middles", _tie_middles(self.knots, self.levels), persistent=False)
        self.register_load_state_dict_post_hook(_refresh_middles)
        self.embed: nn.Module | None = None
        width = 1
        if n_cont and embedding == "periodic":
            self.embed = PeriodicEmbeddings(n_cont, d_embedding, lite=True)
            width = d_embedding
        elif n_cont and embedding == "piecewise":
            self.embed = PiecewiseLinear(n_cont, d_embedding)
            width = d_embedding
        self.chunks = [width] * n_cont + [1] * len(other)
        self.out_features = sum(self.chunks)

    @torch.no_grad()
    def init_from_data(self, X: torch.Tensor) -> None:
        """Fill the transform's and the embedding's statistics from training rows ``X``."""
        if not len(self.continuous):
            return
        x = sample_rows(X)[:, self.continuous.to(X.device)]
        if self.transform == "quantile":
            levels = torch.linspace(0, 1, self.knots.shape[1], device=x.device)
            self.knots.copy_(_quantiles(x, levels).t())
            self.middles.copy_(_tie_middles(self.knots, self.levels))
        elif self.transform == "robust_clip":
            q = _quantiles(x, torch.tensor([0.25, 0.5, 0.75]))
            spread = q[2] - q[0]
            fallback = x.std(dim=0)  # a column whose middle half is one value
            spread = torch.where(spread > 0, spread, torch.where(fallback > 0, fallback, 1.0))
            self.center.copy_(q[1])
            self.scale.copy_(spread)
        if isinstance(self.embed, PiecewiseLinear):
            self.embed.init_from_data(self._transform(x))

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        # In float32, the precision the statistics were taken at, whatever dtype the model
        # runs in: a value shared by many rows (a level of a discrete column) is a tie among
        # the quantile knots or the piecewise bin edges and must compare equal to them; in
        # float64 (the fitted estimator predicts in float64) the same value differs from its
        # float32 knot or edge in the last bits and lands at one end of its tie (measured:
        # 0.98 validation accuracy, 0.70 on the same rows through predict, with quantile; 0.99
        # and 0.80 on car with robust_clip and piecewise bins).
        dtype = x.dtype
        return self._transform_float32(x.float()).to(dtype)

    def _transform_float32(self, x: torch.Tensor) -> torch.Tensor:
        if self.transform == "quantile":
            knots = self.knots.float()
            # The quantile level of x, a value many rows share at the middle of its range of
            # levels, not at one end of it (as scikit-learn's QuantileTransformer); then its
            # normal score.
            levels = self.levels.float()
            # in row parts of about QUANTILE_PART_CELLS: the interpolation's temporaries then
            # stay small (see QUANTILE_PART_CELLS)
            rows = max(1, QUANTILE_PART_CELLS // max(1, x.shape[1]))
            middles = self.middles.float()
            # each part's normal scores before the next part: one output-sized tensor (the
            # concatenation), not three
            return torch.cat([
                torch.special.ndtri(
                    _quantile_level(part, knots, levels, middles).clamp(
                        QUANTILE_CLIP, 1 - QUANTILE_CLIP
                    )
                )
                for part in x.split(rows)
            ])
        if self.transform == "robust_clip":
            z = (x - self.center.float()) / self.scale.float()
            return z / torch.sqrt(1 + (z / SOFT_CLIP) ** 2)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.continuous):
            return x
        n_cont = len(self.continuous)
        in_order = getattr(self, "in_order", False)  # absent from encoders pickled before it
        if in_order and self.transform == "standard" and self.embed is None:
            return self._transform(x)  # x itself in float32
        # index_select, not x[:, index]: a third of the time on 2,097 x 4,000 rows
        cont = x[:, :n_cont] if in_order else x.index_select(1, self.continuous)
        cont = self._transform(cont)
        if self.embed is not None:
            cont = self.embed(cont).flatten(1)
        if not len(self.other):
            return cont
        other = x[:, n_cont:] if in_order else x.index_select(1, self.other)
        return torch.cat([cont, other], dim=1)
