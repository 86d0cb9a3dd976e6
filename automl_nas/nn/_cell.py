"""A DARTS / NAS-Bench-201 style image cell: a small DAG with one operation per edge, stacked.

A cell with ``n_nodes`` nodes has node 0 as its input and every later node ``j`` the sum of one
operation on each earlier node ``i < j``: ``n_nodes * (n_nodes - 1) / 2`` edges (6 for the default
4 nodes, as in NAS-Bench-201). The cell's output is its last node. Every operation keeps the
channel count and the spatial size, so any assignment of operations to edges is a valid cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from automl_nas.nn._dropout import Dropout

#: Candidate operations of an edge, by name.
CELL_OPS = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "conv_3x3",
    "conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip",
    "zero",
)

#: Operations without weights: what a collapsing DARTS search piles up.
PARAMETER_FREE_OPS = frozenset({"max_pool_3x3", "avg_pool_3x3", "skip", "zero"})


def cell_edges(n_nodes: int) -> list[tuple[int, int]]:
    """The (from, to) node pairs of a cell, grouped by target node: (0,1), (0,2), (1,2), (0,3)..."""
    if n_nodes < 2:
        raise ValueError(f"a cell needs at least 2 nodes (input and output), got {n_nodes}")
    return [(i, j) for j in range(1, n_nodes) for i in range(j)]


class ReLUConvBN(nn.Module):
    """ReLU -> k x k convolution -> batch norm (the DARTS order, so cells start from raw sums)."""

    def __init__(self, channels: int, kernel: int, affine: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(channels, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SepConv(nn.Module):
    """ReLU -> depthwise k x k -> pointwise 1x1 -> batch norm: a conv at a ninth of the weights.

    One separable block, not DARTS' two stacked ones: the cell is meant for small CPU budgets.
    """

    def __init__(self, channels: int, kernel: int, affine: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Zero(nn.Module):
    """The absent edge: contributes nothing to its target node."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


#: Factories (channels, affine) -> module for each name in :data:`CELL_OPS`.
OPS: dict[str, Callable[[int, bool], nn.Module]] = {
    "sep_conv_3x3": lambda c, affine: SepConv(c, 3, affine),
    "sep_conv_5x5": lambda c, affine: SepConv(c, 5, affine),
    "conv_3x3": lambda c, affine: ReLUConvBN(c, 3, affine),
    "conv_5x5": lambda c, affine: ReLUConvBN(c, 5, affine),
    "max_pool_3x3": lambda c, affine: nn.MaxPool2d(3, stride=1, padding=1),
    "avg_pool_3x3": lambda c, affine: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    "skip": lambda c, affine: nn.Identity(),
    "zero": lambda c, affine: Zero(),
}


def make_op(name: str, channels: int, affine: bool = True) -> nn.Module:
    """The operation ``name`` on ``channels`` channels (``affine=False``: DARTS' supernet BN)."""
    if name not in OPS:
        raise ValueError(f"Unknown cell operation {name!r}; choose from {list(CELL_OPS)}")
    return OPS[name](channels, affine)


class Cell(nn.Module):
    """One cell: ``ops[e]`` on edge ``cell_edges(n_nodes)[e]``; output is the last node.

    Example:
        >>> cell = Cell(["conv_3x3", "skip", "sep_conv_3x3", "skip", "zero", "conv_3x3"], 8)
        >>> tuple(cell(torch.zeros(2, 8, 5, 5)).shape)
        (2, 8, 5, 5)
    """

    def __init__(self, ops: Sequence[str], channels: int, n_nodes: int = 4) -> None:
        super().__init__()
        self.edges = cell_edges(n_nodes)
        if len(ops) != len(self.edges):
            raise ValueError(
                f"a {n_nodes}-node cell has {len(self.edges)} edges but {len(ops)} ops were given"
            )
        self.op_names = tuple(ops)
        self.ops = nn.ModuleList(make_op(name, channels) for name in ops)
        self.n_nodes = n_nodes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, self.n_nodes):
            # Zero edges are skipped rather than added: same result, no wasted compute.
            terms = [
                op(nodes[i])
                for (i, target), op, name in zip(self.edges, self.ops, self.op_names, strict=True)
                if target == j and name != "zero"
            ]
            nodes.append(torch.stack(terms).sum(0) if terms else torch.zeros_like(x))
        return nodes[-1]


class ReductionBlock(nn.Module):
    """Halve the resolution, double the channels between cells (NAS-Bench-201's residual block)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class CellBackbone(nn.Module):
    """Flat rows -> (C, H, W) -> stem conv -> cells (reduction blocks between) -> pool -> linear.

    ``make_cell(channels)`` builds each cell, so the discrete network and DARTS' supernet share
    one macro skeleton and differ only in their cells.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_outputs: int,
        make_cell: Callable[[int], nn.Module],
        *,
        channels: int,
        n_cells: int,
        dropout: float = 0.0,
        reduction: bool = True,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(
                f"a cell network needs a (C, H, W) input shape, got {tuple(input_shape)}"
            )
        if channels < 1 or n_cells < 1:
            raise ValueError(f"need channels >= 1 and n_cells >= 1, got {channels}, {n_cells}")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.stem = nn.Sequential(
            nn.Conv2d(self.input_shape[0], channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        blocks: list[nn.Module] = []
        width = channels
        for index in range(n_cells):
            if index > 0 and reduction:
                blocks.append(ReductionBlock(width, 2 * width))
                width *= 2
            blocks.append(make_cell(width))
        self.cells = nn.ModuleList(blocks)
        self.head = nn.Sequential(
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            Dropout(dropout),
            nn.Linear(width, n_outputs),
        )

    def features(
        self, x: torch.Tensor, run_cell: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    ):
        """Stem and blocks on flat rows ``x``; ``run_cell(cell, h)`` applies each cell."""
        h = self.stem(x.reshape(-1, *self.input_shape))
        for block in self.cells:
            h = block(h) if isinstance(block, ReductionBlock) else run_cell(block, h)
        return h


class CellNetwork(CellBackbone):
    """The discrete image network of the cell space: ``n_cells`` copies of one cell.

    Args:
        input_shape: (C, H, W) of one image; inputs arrive as flat rows of C*H*W values.
        n_outputs: Width of the linear head.
        ops: One operation name per edge of the cell (see :func:`cell_edges`).
        channels: Channels of the first cell (doubled after each reduction).
        n_cells: Cells stacked.
        n_nodes: Nodes per cell, input included.
        dropout: Dropout before the head.
        reduction: Halve the resolution and double the channels between cells.

    Example:
        >>> net = CellNetwork((1, 8, 8), 10, ["conv_3x3"] * 6, channels=8, n_cells=2)
        >>> tuple(net(torch.zeros(4, 64)).shape)
        (4, 10)
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_outputs: int,
        ops: Sequence[str],
        *,
        channels: int = 16,
        n_cells: int = 2,
        n_nodes: int = 4,
        dropout: float = 0.0,
        reduction: bool = True,
    ) -> None:
        super().__init__(
            input_shape,
            n_outputs,
            lambda width: Cell(ops, width, n_nodes),
            channels=channels,
            n_cells=n_cells,
            dropout=dropout,
            reduction=reduction,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, lambda cell, h: cell(h)))
