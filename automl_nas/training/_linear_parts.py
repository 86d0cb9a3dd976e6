"""Linear models fitted over parts of training rows that keep NaN, without a filled copy.

Where the search's matrix keeps missing values as NaN (``SearchSpace.fills_missing``), a
linear model fills them with its columns' medians (:class:`~automl_nas.nn.MissingFill`).
scikit-learn's solvers read the rows as one matrix, so they needed a filled copy of the
training rows: 286 MiB for 37,500 x 2,000, resident through the search and the one item that
kept a default search on a wide table with missing values above its memory bound
(``benchmarks/README.md``, "Linear models fitted over parts of the rows").

Here the same objectives as ``LogisticRegression(C=1 / alpha)`` (binomial for two classes,
multinomial for more) and ``Ridge(alpha)`` (intercepts not penalised) are minimised by
SciPy's L-BFGS-B with scikit-learn's lbfgs settings, the loss and gradient summed over parts
of :data:`PART_CELLS` entries (:class:`FilledParts`): each part is copied into one buffer and
its missing entries scattered in from positions found once per search, so a pass over
37,500 x 2,000 rows with 5 % missing took 40 ms against 27-29 ms over the unfilled matrix
(filling each part by ``torch.where``: 90-150 ms). Hand written because no maintained solver
takes its rows a part at a time with exact gradients (``SGDClassifier.partial_fit`` would need
many passes and a learning rate).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from automl_nas.nn import MissingFill

#: Entries of a part (4 MiB as float32, a buffer per trial): 524 rows of 2,000 columns, 20,971
#: of 50. Parts of 2,048 rows of 50 columns made the linear trials of a search on 150,000 x 50
#: rows twice as long as scikit-learn's (0.20 against 0.10 s), in the Python between the
#: parts; parts of 2**22 entries took no less time than these, and that search's median peak
#: was 33 MiB higher with them, about two trials' 16 MiB buffers.
PART_CELLS = 1 << 20
#: A part where at least this share of the entries is missing is kept filled (4 bytes an
#: entry) rather than as positions and values (12 bytes a missing entry): the parts never
#: hold more than the filled copy would.
DENSE_SHARE = 1 / 3


def in_one_part(X: torch.Tensor) -> bool:
    """Whether ``X``'s entries fit one part (:data:`PART_CELLS`)."""
    return X.numel() <= PART_CELLS


class FilledParts:
    """``X``'s rows filled by ``fill`` (one value per column), a part of :data:`PART_CELLS`
    entries at a time, without a filled copy of all of them.

    Each part keeps the flat positions of its NaN and the values that fill them, found once,
    or, where a third or more of it is missing (:data:`DENSE_SHARE`), its rows filled. Reading
    a part copies it into a buffer and scatters the values in, in numpy: torch's copy, on its
    OpenMP threads between the products' MKL threads, made a pass 2 x as long on 2 cores.
    """

    def __init__(self, X: np.ndarray, fill: np.ndarray) -> None:
        self.X, self.fill = X, fill
        #: Rows of a part.
        self.rows = max(1, PART_CELLS // X.shape[1])
        self._parts: list[tuple[np.ndarray, np.ndarray] | np.ndarray] = []
        for start in range(0, len(X), self.rows):
            rows = X[start : start + self.rows]
            missing = np.isnan(rows)
            if missing.mean() >= DENSE_SHARE:
                self._parts.append(np.where(missing, fill, rows))
            else:
                where = np.flatnonzero(missing)
                self._parts.append((where, fill[where % X.shape[1]]))

    def fills_with(self, fill: np.ndarray) -> bool:
        """Whether these parts are filled by ``fill``."""
        return np.array_equal(self.fill, fill)

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        """``(start, rows)`` for each part: ``rows`` a view of a buffer the next part
        overwrites (or of the part kept filled)."""
        buffer = np.empty((min(self.rows, len(self.X)), self.X.shape[1]), self.X.dtype)
        for index, part in enumerate(self._parts):
            start = index * self.rows
            if isinstance(part, np.ndarray):
                yield start, torch.from_numpy(part)
                continue
            rows = buffer[: min(self.rows, len(self.X) - start)]
            np.copyto(rows, self.X[start : start + self.rows])
            where, values = part
            rows.reshape(-1)[where] = values
            yield start, torch.from_numpy(rows)


# The filled parts of a training matrix by id() of its tensor, dropped with it (as the binned
# rows of _boosting.py): the linear trials of a search find the missing entries once.
_parts: dict[int, FilledParts] = {}
_parts_lock = threading.Lock()


def filled_parts(X: torch.Tensor, missing: MissingFill) -> FilledParts:
    """``X`` (on the CPU) filled by ``missing`` a part at a time, built once per ``X`` and
    fill and shared by the linear trials that read it."""
    rows = X.detach().numpy()
    fill = missing.column_fill(X.shape[1]).cpu().numpy()
    key = id(X)
    with _parts_lock:
        found = _parts.get(key)
        if found is None:
            weakref.finalize(X, _parts.pop, key, None)
        elif found.fills_with(fill):
            return found
        found = _parts[key] = FilledParts(rows, fill)
    return found


@dataclass(frozen=True)
class LinearFit:
    """A fitted linear model: ``coef`` (outputs, columns) and ``intercept`` (outputs,);
    ``classes``, for a classifier, the class of each row's target its outputs score (as
    scikit-learn's ``classes_``: one output for two classes, scoring ``classes[1]``)."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray | None


def _loss_and_grad(kind: str, Z: torch.Tensor, T: torch.Tensor) -> tuple[float, torch.Tensor]:
    """The summed loss of raw outputs ``Z`` (rows, outputs) against targets ``T`` and its
    gradient with respect to ``Z``: binomial, multinomial (scikit-learn's half losses) or
    squared error halved."""
    if kind == "binomial":
        z = Z[:, 0]
        loss = torch.nn.functional.softplus(z) - T * z
        return loss.sum().item(), (torch.sigmoid(z) - T).unsqueeze(1)
    if kind == "multinomial":
        log_p = torch.log_softmax(Z, dim=1)
        loss = -log_p.gather(1, T.unsqueeze(1)).sum().item()
        grad = log_p.exp()
        grad[torch.arange(len(T)), T] -= 1.0
        return loss, grad
    residual = Z - T
    return 0.5 * residual.square().sum().item(), residual


def fit_over_parts(
    X: torch.Tensor,
    y: torch.Tensor,
    missing: MissingFill,
    alpha: float,
    *,
    max_iter: int,
    deadline: float = math.inf,
) -> LinearFit:
    """Fit a linear model to ``X`` (float32, NaN where ``missing`` fills) and ``y`` (class
    indices: logistic; floats, one or two dimensions: ridge) over parts of the rows.

    Minimises ``mean(loss) + alpha / (2 n) * ||coef||^2``, scikit-learn's objectives divided by
    ``n`` (its logistic objective with ``C = 1 / alpha``; its ridge one halved), from zero,
    until L-BFGS-B's gradient tolerance (1e-4), ``max_iter`` iterations or ``deadline``
    (``time.monotonic()``), whichever comes first.

    Raises:
        ValueError: Classification targets of one class.
    """
    X = X.cpu()
    n, width = X.shape
    classes = None
    if torch.is_floating_point(y):
        kind, targets = "squared", y.cpu().double().reshape(n, -1)
    else:
        classes, codes = np.unique(y.cpu().numpy(), return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"a linear classifier needs rows of at least 2 classes; these have only "
                f"class {classes[0] if len(classes) else None}"
            )
        kind = "binomial" if len(classes) == 2 else "multinomial"
        targets = torch.from_numpy(codes.astype(np.float64 if kind == "binomial" else np.int64))
    outputs = targets.shape[1] if classes is None else (1 if len(classes) == 2 else len(classes))
    parts = filled_parts(X, missing)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef = torch.from_numpy(theta[: outputs * width]).view(outputs, width)
        intercept = torch.from_numpy(theta[outputs * width :])
        weight = coef.float().T.contiguous()
        loss, grad_coef = 0.0, coef.new_zeros(outputs, width)
        grad_intercept = coef.new_zeros(outputs)
        for start, part in parts:
            part_loss, grad = _loss_and_grad(
                kind, (part @ weight).double() + intercept, targets[start : start + len(part)]
            )
            loss += part_loss
            grad_coef += (grad.float().T @ part).double()
            grad_intercept += grad.sum(0)
        penalty = alpha / n
        value = loss / n + 0.5 * penalty * float(coef.square().sum())
        gradient = torch.cat([(grad_coef / n + penalty * coef).view(-1), grad_intercept / n])
        return value, gradient.numpy()

    def stop_at_deadline(_: object) -> None:
        if time.monotonic() >= deadline:
            raise StopIteration

    # SciPy's BLAS single-threaded: its threads spinning between L-BFGS-B's tiny steps and
    # torch's between the parts' products made a fit of 900 x 12 rows 20 x slower (0.28 s).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective,
            np.zeros(outputs * (width + 1)),
            jac=True,
            method="L-BFGS-B",
            callback=stop_at_deadline,
            options={  # scikit-learn's lbfgs settings (LogisticRegression, tol=1e-4)
                "maxiter": max_iter,
                "maxls": 50,
                "gtol": 1e-4,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
    theta = result.x
    return LinearFit(
        coef=theta[: outputs * width].reshape(outputs, width).astype(np.float32),
        intercept=theta[outputs * width :].astype(np.float32),
        classes=classes,
    )
