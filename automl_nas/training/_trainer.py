"""The epoch loop: minibatch training on device-resident tensors with early stopping."""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch._dynamo  # noqa: F401 - see below
from torch import nn

from automl_nas.nn import dropout_generator
from automl_nas.training._cost import least_epoch_seconds
from automl_nas.training._device import amp_dtype, autocast

#: Rows (times ensemble members) of one forward and backward pass in training on an
#: accelerator (:func:`step_rows`). A larger batch is one step still, its gradient accumulated
#: over parts this size, so that the deadline can stop it between parts: one pass of 2,048 rows
#: x 16 members through a 369-wide residual network took 10 s on 2 cores, and ran a trial 2.5 s
#: past the search's end.
STEP_ROWS = 8192
#: The same on CPU, smaller: the activations a part keeps for its backward pass are most of a
#: wide network's training memory. On one CPU thread, 20,480 rows in batches of 1,024, parts of
#: 2,048 instead of 8,192 took the peak of a 16-member x 647-unit residual network from 2,065 to
#: 656 MiB (66.3 s to 63.7 s) and of an 8 x 937 MLP from 1,168 to 523 MiB (43.5 s to 40.1 s);
#: narrow networks kept their time (``benchmarks/part_memory.py``).
CPU_STEP_ROWS = 2048
MIN_PART_ROWS = 64
#: Added to a run's seed to seed its dropout masks, so they do not follow its batch order.
DROPOUT_SEED_OFFSET = 7919

# torch.optim imports torch._dynamo when the first optimizer of a process is made: 1.7-2.7 s on
# a 2-core VM, which the first trial of every search paid inside its time (its first epoch then
# looked 50-100x slower than the next, and the trial was cut to one epoch). Imported with this
# module instead, before any budget runs.

#: A probed run with a time limit times its first steps (after ``PROBE_WARMUP_STEPS``, which
#: pay one-off costs) and gives up when its first epoch, projected from ``PROBE_STEPS`` steps
#: (or fewer, once they took ``PROBE_SHARE`` of the threshold), would take more than
#: ``SLOW_EPOCH_SHARE`` of the limit: fewer than two epochs would fit. Such a network ended at
#: one epoch or mid-epoch, often predicting the majority class, after spending up to twice its
#: trial's share (30 s on one thread: 3 of 6 network trials on phoneme, 9 s of a 25 s search).
#: It raises :class:`TooSlowForLimit` in a fraction of that instead.
PROBE_WARMUP_STEPS = 2
PROBE_STEPS = 4
PROBE_SHARE = 0.25
SLOW_EPOCH_SHARE = 0.5
#: In its warm-up steps a probed run also looks between the parts of a step
#: (:func:`slow_from_parts`): one step of a wide network of many members can take seconds (a
#: 16-member 3 x 508 network's first step on 40,000 x 50 rows ran past its trial's hard stop,
#: 6.4 s of a 30 s fit; 2-2.5 s for others, decided only when the step ended). It gives up once
#: the time spent passes the threshold (the warm-up rule, a part at a time), or, after
#: ``PROBE_SHARE`` of it, when the epoch projected from the rows trained so far exceeds the
#: threshold ``PROBE_PARTS_MARGIN`` times over: the first parts pay the one-off costs, so only
#: a run that far over is judged from them.
PROBE_PARTS_MARGIN = 4.0


def step_rows(device: torch.device) -> int:
    """Rows (times ensemble members) of one training part on ``device``."""
    return CPU_STEP_ROWS if device.type == "cpu" else STEP_ROWS


def slow_from_parts(spent: float, rows_done: int, n_rows: int, slow_epoch: float) -> float | None:
    """The first epoch's projected seconds if ``spent`` seconds on its first ``rows_done`` of
    ``n_rows`` rows already show it longer than ``slow_epoch``, else None (see
    ``PROBE_PARTS_MARGIN``)."""
    if rows_done <= 0 or spent < PROBE_SHARE * slow_epoch:
        return None
    projected = spent / rows_done * n_rows
    if spent >= slow_epoch or projected > PROBE_PARTS_MARGIN * slow_epoch:
        return projected
    return None


class TooSlowForLimit(RuntimeError):
    """A run too slow for its time: its first epoch would not fit its time limit twice (see
    ``SLOW_EPOCH_SHARE``), the deadline cut its first epoch, or too little of its time was left
    to start it."""

    def __init__(
        self, epoch_seconds: float, time_limit: float, message: str | None = None
    ) -> None:
        super().__init__(
            message
            or f"one epoch would take about {epoch_seconds:.2f} s of a {time_limit:.2f} s limit"
        )
        self.epoch_seconds, self.time_limit = epoch_seconds, time_limit


#: Rows per forward pass when scoring, so prediction never holds a huge activation at once;
#: divided among the members of a network that runs ``k`` of them (``model.k``), whose
#: activations are k times wider (8,192 rows x 8 members x 668 units took 82 ms a pass, most
#: of it allocating 175 MB; 1,024 rows a pass 9x less).
EVAL_CHUNK = 8192
#: And at most this many input cells (rows x columns) per pass, before the same division: on
#: 2,000 columns a pass of 8,192 rows is 65 MB of input, and the input layer's copies of it
#: (the continuous columns, their transform, a member's scaled copy) are as large. Scoring
#: 12,500 x 2,000 rows on one thread, peak above the rows: a one-member network with the
#: quantile transform 328 -> 151 MiB (2.03 -> 1.94 s), a k=4 residual network 195 -> 91 MiB
#: (3.32 -> 2.54 s). Tables up to 512 columns keep 8,192 rows.
EVAL_CELLS = 1 << 22


def eval_rows(members: int, X: torch.Tensor) -> int:
    """Rows of ``X`` per scoring pass of a network that runs ``members`` members at once."""
    cells = max(1, X[0].numel()) if len(X) else 1
    return max(64, min(EVAL_CHUNK, EVAL_CELLS // cells) // max(1, members))


@dataclass
class TensorData:
    """Train and validation tensors, already on the training device (shared by all trials)."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.X_train.device


@dataclass
class TrainResult:
    """A trained network (on CPU, eval mode) and how its training went."""

    model: nn.Module
    score: float
    val_output: np.ndarray
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by: str = "epochs"  # "epochs", "early_stopping" or "time_budget"


@runtime_checkable
class DataInitialised(Protocol):
    """A network that takes statistics of its inputs from the training rows before training
    (``TabularNet``: quantiles and scales of the continuous columns)."""

    def init_from_data(self, X: torch.Tensor) -> None: ...


def fitting_epochs(planned: int, done: int, seconds_left: float, last_epoch_seconds: float) -> int:
    """The epochs a run with a time limit ends at, re-estimated after each of them.

    ``done`` epochs are behind, ``seconds_left`` of the limit remain and the last epoch took
    ``last_epoch_seconds``; never more than ``planned``. Re-estimating after every epoch
    (not once, after the first) matters: a process's first epoch also pays one-off costs
    (thread pools, kernel caches), measured at 10-20x a later one.
    """
    more = int(max(seconds_left, 0.0) / max(last_epoch_seconds, 1e-6))
    return max(done, min(planned, done + more))


#: Called after every epoch with (epoch, record); may raise optuna.TrialPruned.
EpochCallback = Callable[[int, dict[str, float]], None]


def make_optimizer(model: nn.Module, params: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The optimizer named by ``params["optimizer"]`` with the sampled lr and weight decay.

    Fused (one kernel updates every parameter) where torch has a fused kernel for the model's
    device and dtype, the per-tensor default otherwise. Same update rule; on CPU the default
    runs a Python loop of small ops per parameter, and fused AdamW made a step of a 2 x 256
    MLP on 64 rows 30-40% faster (benchmarks/results/trainer_throughput.md).
    """
    name, lr, wd = params["optimizer"], params["lr"], params["weight_decay"]
    options: dict[str, Any] = {"lr": lr, "weight_decay": wd}
    if name == "adamw":
        cls = torch.optim.AdamW
    elif name == "adam":
        cls = torch.optim.Adam
    elif name == "sgd":
        cls, options = torch.optim.SGD, {**options, "momentum": 0.9, "nesterov": True}
    else:
        raise ValueError(f"Unknown optimizer {name!r}; choose from 'adamw', 'adam', 'sgd'")
    try:
        return cls(model.parameters(), fused=True, **options)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        return cls(model.parameters(), **options)


@torch.no_grad()
def forward_all(model: nn.Module, X: torch.Tensor, amp: torch.dtype | None = None) -> torch.Tensor:
    """Eval-mode outputs for all rows of ``X``, chunked, as float32 (float64 for a float64 model)."""
    model.eval()
    chunks = []
    rows = eval_rows(int(getattr(model, "k", 1)), X)
    for start in range(0, len(X), rows):
        with autocast(X.device, amp):
            out = model(X[start : start + rows])
            chunks.append(out if out.dtype == torch.float64 else out.float())
    return torch.cat(chunks)


#: Learning-rate schedules a space may choose (``params["schedule"]``; default "cosine").
SCHEDULES = ("cosine", "flat_cosine", "constant")


def lr_factor(schedule: str, progress: float) -> float:
    """The learning rate's multiplier at ``progress`` (0 at the start, 1 at the last epoch).

    "cosine" decays to zero over the run; "flat_cosine" holds the rate for the first half and
    then decays it as a cosine (RealMLP's flat-then-anneal, Holzmueller et al., NeurIPS 2024);
    "constant" holds it.
    """
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "flat_cosine":
        return 1.0 if progress <= 0.5 else 0.5 * (1 + math.cos(math.pi * (2 * progress - 1)))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"Unknown schedule {schedule!r}; choose from {SCHEDULES}")


def member_loss(loss_fn: nn.Module, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``loss_fn`` of a batch, averaged over ensemble members when ``output`` holds them.

    A network that trains k members at once (``TabularNet`` with ``k > 1``) outputs
    ``(batch, k, outputs)`` in training mode; each member is scored against the same targets.
    """
    if output.dim() == 3:
        k = output.shape[1]
        return loss_fn(output.flatten(0, 1), target.repeat_interleave(k, dim=0))
    return loss_fn(output, target)


def training_loss(loss_fn: nn.Module, params: Mapping[str, Any]) -> nn.Module:
    """The loss minimised in training: ``loss_fn`` with the sampled label smoothing, if any.

    Only a cross-entropy loss smooths labels; validation always scores with ``loss_fn``.
    """
    smoothing = float(params.get("label_smoothing", 0.0))
    if smoothing and isinstance(loss_fn, nn.CrossEntropyLoss):
        return nn.CrossEntropyLoss(label_smoothing=smoothing)
    return loss_fn


@functools.singledispatch
def train(
    model: nn.Module,
    params: Mapping[str, Any],
    data: TensorData,
    *,
    loss_fn: nn.Module,
    score_fn: Callable[[torch.Tensor], float],
    max_epochs: int,
    patience: int,
    seed: int,
    deadline: float = math.inf,
    time_limit: float | None = None,
    on_epoch: EpochCallback | None = None,
    probe: bool = False,
) -> TrainResult:
    """Train ``model`` with the sampled training ``params`` and keep its best-validation weights.

    Epochs are ``min(params["epochs"], max_epochs)``, fewer if ``time_limit`` seconds would
    not hold them: after each epoch the number of epochs is set to what the limit leaves room
    for at that epoch's pace (:func:`fitting_epochs`), so the learning-rate schedule
    (``params["schedule"]``, default cosine) runs to its end within the limit. ``params`` may also set ``label_smoothing`` and
    ``grad_clip`` (the gradients' largest total norm; 0: none). A network with an
    ``init_from_data`` method first takes its input statistics from the training rows.

    After each epoch the validation loss decides early stopping (``patience`` epochs without
    improvement) and ``on_epoch`` receives the validation score, which is how a trial reports
    to its pruner. Training stops at ``deadline`` (``time.monotonic()``), also mid-epoch, and
    still returns the best weights seen: a long trial never overruns the search budget (an
    epoch the deadline cuts is validated only if it is the first). With
    ``probe`` and a ``time_limit``, a network whose first steps project an epoch longer than
    ``SLOW_EPOCH_SHARE`` of the limit raises :class:`TooSlowForLimit` within its first epoch
    (a search sets ``probe`` once it has a model, so it never ends with none), or before its
    first step when even the least time its operations can take says so
    (:func:`~automl_nas.training._cost.least_epoch_seconds`); so does a probed run that
    ``deadline`` cuts within its first epoch, before its validation pass.

    ``seed`` fixes the batch order and the dropout masks (:class:`~automl_nas.nn.Dropout`
    draws from a generator of the run's own), so a run repeats from its seed and its initial
    weights whatever trains beside it in other threads.

    Dispatches on the type of ``model``: families that scikit-learn fits (tree ensembles,
    linear models) register their own fitting with the same contract
    (``automl_nas.training._fitted``).
    """
    started = time.monotonic()
    device = data.device
    amp = amp_dtype(device)
    model.to(device)
    if isinstance(model, DataInitialised):
        model.init_from_data(data.X_train)
    optimizer = make_optimizer(model, params)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    planned = epochs = max(1, min(int(params["epochs"]), max_epochs))
    schedule = params.get("schedule", "cosine")
    lr_factor(schedule, 0.0)  # an unknown schedule fails before any training
    clip = float(params.get("grad_clip", 0.0))
    train_loss_fn = training_loss(loss_fn, params)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    generator = torch.Generator(device=device).manual_seed(seed)
    n, batch_size = len(data.X_train), int(params["batch_size"])
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n_steps = math.ceil(n / batch_size)
    may_give_up = probe  # the caller has a model already: this run may end without one
    probe = probe and time_limit is not None and n_steps > PROBE_WARMUP_STEPS
    slow_epoch = SLOW_EPOCH_SHARE * (time_limit or math.inf)
    if probe:  # before its first step, so a network far too slow allocates no activations
        least = least_epoch_seconds(model, data.X_train, len(data.X_val))
        if least > slow_epoch:  # confirmed by a second measurement of the rate
            least = least_epoch_seconds(model, data.X_train, len(data.X_val), remeasure=True)
        if least > slow_epoch:
            raise TooSlowForLimit(least, slow_epoch / SLOW_EPOCH_SHARE, (
                f"one epoch would take at least {least:.2f} s of a "
                f"{slow_epoch / SLOW_EPOCH_SHARE:.2f} s limit at this machine's matrix-product rate"
            ))
    probe_started = 0.0
    # Rows of one forward pass: a network of k members (model.k) computes k rows per row.
    part_rows = max(MIN_PART_ROWS, step_rows(device) // int(getattr(model, "k", 1)))

    best: dict[str, Any] = {"loss": math.inf, "state": None, "epoch": 0, "output": None}
    history: list[dict[str, float]] = []
    stopped_by, since_best = "epochs", 0
    epoch = 0
    # Dropout masks from the trial's own generator: its training repeats from its seed
    # whatever trains beside it in other threads (automl_nas.nn.Dropout).
    masks = torch.Generator(device=device).manual_seed(seed + DROPOUT_SEED_OFFSET)
    with dropout_generator(masks):
        while epoch < epochs:
            epoch += 1
            epoch_started = time.monotonic()
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * lr_factor(schedule, (epoch - 1) / epochs)
            model.train()
            order = torch.randperm(n, device=device, generator=generator)
            # Summed on the device and read once per epoch: a per-batch .item() would make the host
            # wait for every step on a GPU.
            total, seen = torch.zeros((), device=device), 0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                if len(idx) < 2 and n > 1:  # batch norm cannot train on a single row
                    continue
                optimizer.zero_grad(set_to_none=True)
                # One step's gradient, accumulated over parts of the batch: the same update, in
                # pieces the deadline can stop between.
                step_loss = torch.zeros((), device=device)
                part_end = 0  # rows of this step's parts trained so far
                for part in idx.split(part_rows):
                    with autocast(device, amp):
                        out = model(data.X_train[part])
                        share = len(part) / len(idx)
                        loss = member_loss(train_loss_fn, out, data.y_train[part]) * share
                    (loss if scaler is None else scaler.scale(loss)).backward()
                    step_loss += loss.detach().float()
                    if time.monotonic() >= deadline:
                        stopped_by = "time_budget"
                        break
                    if probe and start < PROBE_WARMUP_STEPS * batch_size:  # between parts too
                        part_end += len(part)
                        projected = slow_from_parts(
                            time.monotonic() - epoch_started, start + part_end, n, slow_epoch
                        )
                        if projected is not None:
                            raise TooSlowForLimit(projected, slow_epoch / SLOW_EPOCH_SHARE)
                if stopped_by == "time_budget":
                    break  # the interrupted step is not taken
                if scaler is None:
                    if clip:
                        nn.utils.clip_grad_norm_(model.parameters(), clip)
                    optimizer.step()
                else:
                    if clip:
                        scaler.unscale_(optimizer)
                        nn.utils.clip_grad_norm_(model.parameters(), clip)
                    scaler.step(optimizer)
                    scaler.update()
                total += step_loss * len(idx)
                seen += len(idx)
                if probe:  # in the first epoch, decided once
                    step = start // batch_size + 1
                    spent = time.monotonic() - epoch_started
                    if step <= PROBE_WARMUP_STEPS and spent >= slow_epoch:
                        # warm-up steps alone past the threshold: no need to time more of them
                        raise TooSlowForLimit(spent / step * n_steps, slow_epoch / SLOW_EPOCH_SHARE)
                    if step == PROBE_WARMUP_STEPS:
                        probe_started = time.monotonic()
                    elif step > PROBE_WARMUP_STEPS:
                        measured = step - PROBE_WARMUP_STEPS
                        spent = time.monotonic() - probe_started
                        if measured >= PROBE_STEPS or spent >= PROBE_SHARE * slow_epoch:
                            probe = False
                            projected = spent / measured * n_steps
                            if projected > slow_epoch:
                                raise TooSlowForLimit(projected, slow_epoch / SLOW_EPOCH_SHARE)
                if time.monotonic() >= deadline:
                    stopped_by = "time_budget"
                    break
            probe = False
            if may_give_up and epoch == 1 and stopped_by == "time_budget":
                # Cut within its first epoch: its validation pass can cost as much again past
                # the deadline (40,000 rows through 16 members x 647 units: a minute on one
                # thread, a 30 s fit took 89 s), for a network that saw part of the rows once.
                spent = time.monotonic() - epoch_started
                limit = time_limit if time_limit is not None else deadline - started
                raise TooSlowForLimit(spent / max(seen, 1) * n, limit)
            if stopped_by == "time_budget" and history:
                # The deadline cut this epoch, and an earlier one was validated: keep that one
                # rather than validate past the deadline (12,500 x 2,000 validation rows
                # through a quantile transform take about 2.2 s on one thread).
                break

            output = forward_all(model, data.X_val, amp)
            val_loss = loss_fn(output, data.y_val).item()
            record = {
                "epoch": epoch,
                "train_loss": total.item() / max(seen, 1),
                "val_loss": val_loss,
                "val_score": score_fn(output),
            }
            history.append(record)
            if not math.isfinite(val_loss):
                raise FloatingPointError(
                    f"validation loss is {val_loss} at epoch {epoch}: training diverged"
                )
            if val_loss < best["loss"]:
                best.update(loss=val_loss, epoch=epoch, output=output, score=record["val_score"])
                best["state"] = copy.deepcopy(model.state_dict())
                since_best = 0
            else:
                since_best += 1
            if on_epoch is not None:
                on_epoch(epoch, record)
            if time_limit is not None:
                now = time.monotonic()
                left = started + time_limit - now
                epochs = fitting_epochs(planned, epoch, left, now - epoch_started)
            if stopped_by == "time_budget":
                break
            if time.monotonic() >= deadline:
                stopped_by = "time_budget"
                break
            if since_best >= patience:
                stopped_by = "early_stopping"
                break

    model.load_state_dict(best["state"])
    model.to("cpu").eval()
    return TrainResult(
        model=model,
        score=best["score"],
        val_output=best["output"].cpu().numpy(),
        best_epoch=best["epoch"],
        history=history,
        stopped_by=stopped_by,
    )
