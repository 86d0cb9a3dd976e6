"""DARTS supernets: every discrete choice of a space relaxed into a softmax-weighted mixture.

A supernet holds one vector of architecture logits (alphas) per decision, keyed by the search
space's parameter name, with its candidate values in the same order. DARTS trains the weights on
the training split and the alphas on the validation split, then keeps each decision's strongest
candidate (Liu et al. 2019, "DARTS: Differentiable Architecture Search").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from automl_nas.nn._cell import CellBackbone, cell_edges, make_op
from automl_nas.nn._mlp import ACTIVATIONS, make_norm


class Supernet(nn.Module):
    """Architecture logits per decision, and the split of parameters DARTS optimises apart.

    Args:
        decisions: Parameter name -> candidate values, in the order of its logits.
    """

    def __init__(self, decisions: Mapping[str, Sequence[Any]]) -> None:
        super().__init__()
        self.decisions = {name: tuple(choices) for name, choices in decisions.items()}
        empty = [name for name, choices in self.decisions.items() if not choices]
        if empty:
            raise ValueError(f"decisions {empty} have no candidates")
        # Near-uniform start as in DARTS; drawn from the caller's (seeded, forked) torch RNG.
        self.alphas = nn.ParameterDict(
            {name: nn.Parameter(1e-3 * torch.randn(len(c))) for name, c in self.decisions.items()}
        )

    def arch_parameters(self) -> list[nn.Parameter]:
        """The alphas, trained on the validation split."""
        return list(self.alphas.values())

    def weight_parameters(self) -> list[nn.Parameter]:
        """Everything but the alphas, trained on the training split."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def mixture(self) -> dict[str, torch.Tensor]:
        """Softmax of each decision's alphas: the weights of its candidates in the forward pass."""
        return {name: torch.softmax(alpha, dim=0) for name, alpha in self.alphas.items()}

    def probabilities(self) -> dict[str, list[float]]:
        """The current architecture distribution, detached, one list per decision."""
        return {name: w.detach().cpu().tolist() for name, w in self.mixture().items()}


class MixedOp(nn.Module):
    """One cell edge in the supernet: the weighted sum of every candidate operation.

    Pools get a non-affine batch norm (as in DARTS) so their scale matches the conv candidates';
    ``zero`` is kept in the softmax but never computed, since it adds nothing.
    """

    def __init__(self, candidates: Sequence[str], channels: int) -> None:
        super().__init__()
        self.candidates = tuple(candidates)
        ops = []
        for name in self.candidates:
            op = make_op(name, channels, affine=False)
            if "pool" in name:
                op = nn.Sequential(op, nn.BatchNorm2d(channels, affine=False))
            ops.append(op)
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        terms = [
            w * op(x)
            for w, op, name in zip(weights, self.ops, self.candidates, strict=True)
            if name != "zero"
        ]
        return torch.stack(terms).sum(0) if terms else torch.zeros_like(x)


class SuperCell(nn.Module):
    """A cell whose every edge is a :class:`MixedOp` over that edge's candidates."""

    def __init__(
        self, candidates: Sequence[Sequence[str]], channels: int, n_nodes: int = 4
    ) -> None:
        super().__init__()
        self.edges = cell_edges(n_nodes)
        if len(candidates) != len(self.edges):
            raise ValueError(
                f"a {n_nodes}-node cell has {len(self.edges)} edges, got "
                f"{len(candidates)} candidate lists"
            )
        self.mixed = nn.ModuleList(MixedOp(c, channels) for c in candidates)
        self.n_nodes = n_nodes

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
        nodes = [x]
        for j in range(1, self.n_nodes):
            terms = [
                op(nodes[i], w)
                for (i, target), op, w in zip(self.edges, self.mixed, weights, strict=True)
                if target == j
            ]
            nodes.append(torch.stack(terms).sum(0))
        return nodes[-1]


class SuperNetwork(Supernet):
    """The cell space's supernet: :class:`~automl_nas.nn.CellNetwork`'s skeleton with super cells.

    Decisions are ``op_0`` .. ``op_{E-1}``, one per cell edge; all cells share one set of alphas
    (as DARTS shares them across its normal cells).

    Example:
        >>> net = SuperNetwork((1, 8, 8), 10, [["conv_3x3", "skip"]] * 6, channels=4, n_cells=1)
        >>> tuple(net(torch.zeros(2, 64)).shape), sorted(net.decisions)[:2]
        ((2, 10), ['op_0', 'op_1'])
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_outputs: int,
        candidates: Sequence[Sequence[str]],
        *,
        channels: int = 16,
        n_cells: int = 2,
        n_nodes: int = 4,
        reduction: bool = True,
    ) -> None:
        super().__init__({f"op_{e}": choices for e, choices in enumerate(candidates)})
        self.backbone = CellBackbone(
            input_shape,
            n_outputs,
            lambda width: SuperCell(candidates, width, n_nodes),
            channels=channels,
            n_cells=n_cells,
            reduction=reduction,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mix = self.mixture()
        weights = [mix[f"op_{e}"] for e in range(len(mix))]
        return self.backbone.head(self.backbone.features(x, lambda cell, h: cell(h, weights)))


class SuperMLP(Supernet):
    """The tabular space's supernet: depth, widths, activation, norm and skip as mixtures.

    Every layer is a linear map of its widest candidate width; a width candidate is a mask that
    keeps its first units, and the layer's output is masked by the softmax-weighted sum of those
    masks (FBNetV2-style channel masking), so all widths share one weight matrix. Activation and
    norm mix their candidates on each layer (one decision each, as in ``MLPSpace``); the residual
    path is scaled by the weight of ``skip=True``; depth mixes one linear head per candidate
    depth. Decisions are named like ``MLPSpace``'s parameters, so the argmax is a valid config.

    Args:
        n_inputs: Input features.
        n_outputs: Width of the head.
        n_layers: Candidate depths.
        units: Candidate widths of each layer, one sequence per layer of the deepest candidate.
        activations: Candidate activation names.
        norms: Candidate normalisations ("none", "batch", "layer").
        skips: Candidate values of ``skip`` (False and/or True).

    Example:
        >>> net = SuperMLP(5, 3, n_layers=[1, 2], units=[[8, 16], [8, 16]],
        ...                activations=["relu", "tanh"], norms=["none"], skips=[False, True])
        >>> tuple(net(torch.zeros(4, 5)).shape)
        (4, 3)
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        n_layers: Sequence[int],
        units: Sequence[Sequence[int]],
        activations: Sequence[str],
        norms: Sequence[str],
        skips: Sequence[bool],
    ) -> None:
        depth = max(n_layers)
        if min(n_layers) < 1 or len(units) != depth:
            raise ValueError(
                f"need depths >= 1 and width candidates for exactly {depth} layers, got "
                f"{len(units)}"
            )
        super().__init__(
            {
                "n_layers": n_layers,
                **{f"units_{i}": widths for i, widths in enumerate(units)},
                "activation": activations,
                "norm": norms,
                "skip": skips,
            }
        )
        widest = [max(units[i]) for i in range(depth)]
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.shortcuts = nn.ModuleList()
        n_in = n_inputs
        for width in widest:
            self.linears.append(nn.Linear(n_in, width))
            self.norms.append(nn.ModuleList(make_norm(kind, width) for kind in norms))
            self.shortcuts.append(
                nn.Identity() if n_in == width else nn.Linear(n_in, width, bias=False)
            )
            n_in = width
        self.acts = nn.ModuleList(ACTIVATIONS[name]() for name in activations)
        self.heads = nn.ModuleList(nn.Linear(widest[d - 1], n_outputs) for d in n_layers)
        for i, width in enumerate(widest):
            masks = torch.zeros(len(units[i]), width)
            for k, units_k in enumerate(units[i]):
                masks[k, : int(units_k)] = 1.0
            self.register_buffer(f"masks_{i}", masks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mix = self.mixture()
        skip_on = sum(
            (w for w, value in zip(mix["skip"], self.decisions["skip"], strict=True) if value),
            x.new_zeros(()),
        )
        h, outputs = x, []
        for i, linear in enumerate(self.linears):
            z = linear(h)
            z = sum(w * norm(z) for w, norm in zip(mix["norm"], self.norms[i], strict=True))
            z = sum(w * act(z) for w, act in zip(mix["activation"], self.acts, strict=True))
            z = z * (mix[f"units_{i}"] @ getattr(self, f"masks_{i}"))
            h = z + skip_on * self.shortcuts[i](h)
            outputs.append(h)
        return sum(
            w * head(outputs[d - 1])
            for w, head, d in zip(
                mix["n_layers"], self.heads, self.decisions["n_layers"], strict=True
            )
        )
