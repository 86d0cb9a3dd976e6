"""Missing values filled and flagged by the model that reads them, not stored in the matrix.

The preprocessor can leave NaN in the columns that had missing values in ``fit``
(``MedianImputeScaler(keep_missing=True)``): gradient boosting then routes them natively, a
network fills and flags them itself, a batch at a time, and a linear model fills them
(without indicators), through :class:`MissingFill`. The search's matrix then holds one
float32 column per input column where one imputed column plus one indicator column per
column with missing values doubled it on tables with missing values everywhere (issue 14's
memory item; ``benchmarks/README.md``, "Missing values kept as NaN in the search's matrix").

The filled and flagged values are those ``MedianImputeScaler`` writes without
``keep_missing``: a model that fills reads exactly what it read before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

#: Rows :meth:`MissingFill.fill_array` fills at a time.
EXPAND_ROWS = 1 << 14


@dataclass(frozen=True)
class MissingValues:
    """Which columns of the preprocessed matrix keep NaN, and what fills and flags them.

    Attributes:
        columns: The columns that may hold NaN, ascending.
        fill: Per column of ``columns``, the value of a missing entry (its column's median,
            standardised).
        flag_off: Per column, the standardised indicator of a present value.
        flag_on: Per column, the standardised indicator of a missing value.
    """

    columns: tuple[int, ...]
    fill: tuple[float, ...]
    flag_off: tuple[float, ...]
    flag_on: tuple[float, ...]

    @property
    def n_flags(self) -> int:
        """Indicator columns a model appends: one per column that may hold NaN."""
        return len(self.columns)

    def module(self, flags: bool = True) -> MissingFill:
        """A :class:`MissingFill` applying these values (``flags``: appending indicators)."""
        return MissingFill(self, flags=flags)

    def expand(self, X: np.ndarray, flags: bool = True) -> np.ndarray:
        """``X`` (rows, columns) filled, with the indicator columns appended if ``flags``: a
        new array (:meth:`MissingFill.fill_array`)."""
        return self.module(flags).fill_array(X)


class MissingFill(nn.Module):
    """``(batch, p)`` with NaN in ``columns`` -> ``(batch, p + len(columns))``: each NaN
    replaced by its column's fill value, then one indicator column per such column (none
    without ``flags``: ``(batch, p)``).

    The values are buffers, saved with the model; ``double()`` casts them with its weights.
    """

    def __init__(self, values: MissingValues, flags: bool = True) -> None:
        super().__init__()
        self.flags = flags
        self.register_buffer("columns", torch.tensor(values.columns, dtype=torch.long))
        self.register_buffer("fill", torch.tensor(values.fill, dtype=torch.float32))
        self.register_buffer("flag_off", torch.tensor(values.flag_off, dtype=torch.float32))
        self.register_buffer("flag_on", torch.tensor(values.flag_on, dtype=torch.float32))

    def fill_array(self, X: np.ndarray) -> np.ndarray:
        """:meth:`forward` on a numpy array, into a new array, :data:`EXPAND_ROWS` rows at a
        time: the masks and temporaries of a part stay small beside the result."""
        width = X.shape[1] + (len(self.columns) if self.flags else 0)
        out = np.empty((len(X), width), dtype=X.dtype)
        with torch.no_grad():
            for start in range(0, len(X), EXPAND_ROWS):
                part = torch.from_numpy(np.ascontiguousarray(X[start : start + EXPAND_ROWS]))
                out[start : start + EXPAND_ROWS] = self(part).numpy()
        return out

    def column_fill(self, width: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The fill value of each of ``width`` input columns (0 where none is missing):
        NaN only in ``columns`` (the preprocessor imputes the others), so one value per column
        fills a row without gathering or scattering its columns."""
        fill = self.fill.to(dtype)
        return fill.new_zeros(width).index_copy(0, self.columns, fill)

    def filled(self, x: torch.Tensor, missing: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` with its NaN (``missing``: the mask, if known) filled, without the indicators:
        the first ``p`` columns of :meth:`forward`'s output."""
        missing = x.isnan() if missing is None else missing
        return torch.where(missing, self.column_fill(x.shape[-1], x.dtype).to(x.device), x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = x.isnan()
        filled = self.filled(x, missing)
        if not self.flags:
            return filled
        on, off = self.flag_on.to(x.dtype), self.flag_off.to(x.dtype)
        # every column may hold NaN (``columns`` ascending, unique): the mask is the flags' mask
        every = len(self.columns) == x.shape[-1]
        flags = torch.where(missing if every else missing.index_select(1, self.columns), on, off)
        return torch.cat([filled, flags], dim=1)
