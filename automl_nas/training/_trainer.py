"""The epoch loop: minibatch training on device-resident tensors with early stopping."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_nas.training._device import amp_dtype, autocast

#: Rows per forward pass when scoring, so prediction never holds a huge activation at once.
EVAL_CHUNK = 8192


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
    for start in range(0, len(X), EVAL_CHUNK):
        with autocast(X.device, amp):
            out = model(X[start : start + EVAL_CHUNK])
            chunks.append(out if out.dtype == torch.float64 else out.float())
    return torch.cat(chunks)


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
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train ``model`` with the sampled training ``params`` and keep its best-validation weights.

    Epochs are ``min(params["epochs"], max_epochs)`` with a cosine learning-rate decay. After
    each epoch the validation loss decides early stopping (``patience`` epochs without
    improvement) and ``on_epoch`` receives the validation score, which is how a trial reports to
    its pruner. Training stops at ``deadline`` (``time.monotonic()``), also mid-epoch, and still
    returns the best weights seen: a long trial never overruns the search budget.
    """
    device = data.device
    amp = amp_dtype(device)
    model.to(device)
    optimizer = make_optimizer(model, params)
    epochs = max(1, min(int(params["epochs"]), max_epochs))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    generator = torch.Generator(device=device).manual_seed(seed)
    n, batch_size = len(data.X_train), int(params["batch_size"])

    best: dict[str, Any] = {"loss": math.inf, "state": None, "epoch": 0, "output": None}
    history: list[dict[str, float]] = []
    stopped_by, since_best = "epochs", 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, device=device, generator=generator)
        # Summed on the device and read once per epoch: a per-batch .item() would make the host
        # wait for every step on a GPU.
        total, seen = torch.zeros((), device=device), 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2 and n > 1:  # batch norm cannot train on a single row
                continue
            with autocast(device, amp):
                loss = loss_fn(model(data.X_train[idx]), data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            total += loss.detach().float() * len(idx)
            seen += len(idx)
            if time.monotonic() >= deadline:
                stopped_by = "time_budget"
                break
        scheduler.step()

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
            raise FloatingPointError(f"validation loss is {val_loss} at epoch {epoch}: training diverged")
        if val_loss < best["loss"]:
            best.update(loss=val_loss, epoch=epoch, output=output, score=record["val_score"])
            best["state"] = copy.deepcopy(model.state_dict())
            since_best = 0
        else:
            since_best += 1
        if on_epoch is not None:
            on_epoch(epoch, record)
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
