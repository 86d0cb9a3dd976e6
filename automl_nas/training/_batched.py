"""The epoch loop for P networks of one shape trained side by side, each with its own recipe.

:func:`train_stacked` is :func:`~automl_nas.training.train` for a batch of members
(:class:`~automl_nas.nn.StackedNetwork`): the members see the same minibatches in the same
order (``seed``), and each keeps its own learning rate, weight decay, dropout, label
smoothing, gradient clipping, schedule, planned epochs and early stopping, with its own
optimizer state. Per member, the update is the one :func:`train` makes for that network alone
with the same initial weights and batch order, up to floating-point rounding (dropout draws
its masks differently). A member leaves the batch when it ends (its epochs, early stopping,
its ``on_epoch`` raising, e.g. a pruner's ``TrialPruned``, or a non-finite validation loss)
and the others go on with one member fewer; the search's deadline ends them all, each with
its best weights so far.

Time: a member's ``time_limit`` counts the batch's wall-clock time, as if it had trained
alone for that long: members of a batch train slower per epoch than alone, so the caller
gives a batch a longer limit (:data:`~automl_nas.search.BATCH_TIME_FACTOR`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_nas.nn import StackedNetwork, stack_networks
from automl_nas.training._device import amp_dtype, autocast
from automl_nas.training._trainer import (
    MIN_PART_ROWS,
    EpochCallback,
    TensorData,
    TrainResult,
    eval_rows,
    fitting_epochs,
    lr_factor,
    step_rows,
)

#: Hyperparameters each member of a batch may have of its own; every other parameter (the
#: architecture, the optimizer, the batch size) is shared by the batch.
MEMBER_PARAMS = ("lr", "weight_decay", "dropout", "label_smoothing", "schedule", "grad_clip", "epochs")

ADAM_BETAS, ADAM_EPS, SGD_MOMENTUM = (0.9, 0.999), 1e-8, 0.9


def _per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(P,) values shaped to broadcast over a stacked (P, ...) tensor."""
    return values.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


class StackedOptimizer:
    """Adam, AdamW or SGD (Nesterov momentum 0.9) over stacked parameters, per-member rates.

    The update rules of ``torch.optim.Adam`` / ``AdamW`` / ``SGD`` as
    :func:`~automl_nas.training._trainer.make_optimizer` configures them, with the learning
    rate and weight decay a (P,) tensor: torch's optimizers take one rate per parameter
    tensor, and here one tensor holds all members. Written out (a dozen elementwise operations
    per tensor) for that reason.
    """

    def __init__(
        self, name: str, parameters: Sequence[nn.Parameter], lr: torch.Tensor, weight_decay: torch.Tensor
    ) -> None:
        if name not in ("adam", "adamw", "sgd"):
            raise ValueError(f"Unknown optimizer {name!r}; choose from 'adam', 'adamw', 'sgd'")
        self.name, self.parameters = name, list(parameters)
        self.lr, self.weight_decay = lr.double(), weight_decay.double()
        self.steps = 0
        self.state: list[list[torch.Tensor]] = [[] for _ in self.parameters]

    def zero_grad(self) -> None:
        for param in self.parameters:
            param.grad = None

    @torch.no_grad()
    def step(self, factors: torch.Tensor) -> None:
        """One update with each member's learning rate times its schedule's ``factors``."""
        self.steps += 1
        lr = self.lr * factors.double()
        rates = {}  # (P,) rate and decay in each parameter dtype, converted once per step
        for param, state in zip(self.parameters, self.state):
            if param.grad is None:
                continue
            if param.dtype not in rates:
                rates[param.dtype] = (lr.to(param.dtype), self.weight_decay.to(param.dtype))
            grad = param.grad
            rate, decay = (_per_member(r, param) for r in rates[param.dtype])
            if self.name == "adamw":
                param.mul_(1 - rate * decay)
            else:
                grad = grad + decay * param
            if self.name == "sgd":
                if not state:
                    state.append(grad.clone())
                else:
                    state[0].mul_(SGD_MOMENTUM).add_(grad)
                param.sub_(rate * (grad + SGD_MOMENTUM * state[0]))
                continue
            if not state:
                state += [torch.zeros_like(param), torch.zeros_like(param)]
            exp_avg, exp_avg_sq = state
            beta1, beta2 = ADAM_BETAS
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2**self.steps)).add_(ADAM_EPS)
            param.sub_((rate / (1 - beta1**self.steps)) * exp_avg / denom)

    def keep(self, index: torch.Tensor, parameters: Sequence[nn.Parameter]) -> None:
        """Follow :meth:`StackedNetwork.keep`: the members at ``index``, the new parameters."""
        self.parameters = list(parameters)
        self.lr, self.weight_decay = self.lr[index], self.weight_decay[index]
        self.state = [[s[index.to(s.device)] for s in state] for state in self.state]


@torch.no_grad()
def clip_member_gradients(parameters: Sequence[nn.Parameter], max_norms: torch.Tensor) -> None:
    """Scale each member's gradients to a total norm of at most its ``max_norms`` (0: none),
    as ``nn.utils.clip_grad_norm_`` does for one network."""
    if not bool((max_norms > 0).any()):
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
    total = torch.linalg.vector_norm(norms, dim=0)
    coef = (max_norms / (total + 1e-6)).clamp(max=1.0)
    coef = torch.where(max_norms > 0, coef, torch.ones_like(coef))
    for grad in grads:
        grad.mul_(_per_member(coef, grad))


def member_losses(
    loss_fn: nn.Module, output: torch.Tensor, target: torch.Tensor, smoothing: torch.Tensor
) -> torch.Tensor:
    """Each member's ``loss_fn`` of its ``output`` (P, batch, ...): a (P,) tensor.

    Cross-entropy with each member's label ``smoothing`` (torch's formula) and mean squared
    error are computed for all members at once; any other loss one member at a time. A
    member that is itself an ensemble of k (training output (P, batch, k, outputs)) is
    scored as :func:`~automl_nas.training.member_loss` scores it: every one of its k against
    the targets, averaged.
    """
    if output.dim() == 4:  # (P, batch, k, outputs): rows x k, as member_loss flattens them
        k = output.shape[2]
        output = output.flatten(1, 2)
        target = target.repeat_interleave(k, dim=0)
    if type(loss_fn) is nn.CrossEntropyLoss and loss_fn.weight is None and loss_fn.reduction == "mean":
        logp = output.float().log_softmax(-1)
        nll = -logp.gather(-1, target.expand(len(output), -1).unsqueeze(-1)).squeeze(-1)
        s = smoothing.to(logp.device, logp.dtype).unsqueeze(1)
        return ((1 - s) * nll + s * -logp.mean(-1)).mean(1)
    if type(loss_fn) is nn.MSELoss and loss_fn.reduction == "mean":
        return (output - target).pow(2).flatten(1).mean(1)
    return torch.stack([loss_fn(out, target) for out in output])


@torch.no_grad()
def forward_stacked(network: StackedNetwork, X: torch.Tensor, amp: torch.dtype | None = None) -> torch.Tensor:
    """Eval-mode outputs (P, rows, outputs) of every member for all rows of ``X``, chunked."""
    network.eval()
    rows = eval_rows(network.size, X)
    chunks = []
    for start in range(0, len(X), rows):
        with autocast(X.device, amp):
            chunks.append(network(X[start : start + rows]).float())
    return torch.cat(chunks, dim=1)


@dataclass
class _Member:
    """One member's recipe and progress through :func:`train_stacked`."""

    network: nn.Module
    score_fn: Callable[[torch.Tensor], float]
    on_epoch: EpochCallback | None
    planned: int
    epochs: int
    time_limit: float | None
    schedule: str
    used: float = 0.0
    last: float = 0.0
    best_loss: float = math.inf
    best: dict[str, Any] = field(default_factory=dict)
    since_best: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def train_stacked(
    networks: Sequence[nn.Module],
    params: Sequence[Mapping[str, Any]],
    data: TensorData,
    *,
    loss_fn: nn.Module,
    score_fns: Sequence[Callable[[torch.Tensor], float]],
    max_epochs: int,
    patience: int,
    seed: int,
    deadline: float = math.inf,
    time_limits: Sequence[float | None] | None = None,
    on_epochs: Sequence[EpochCallback | None] | None = None,
) -> list[TrainResult | BaseException]:
    """Train ``networks`` (one architecture) together, each with its ``params`` recipe.

    Every member gets what :func:`~automl_nas.training.train` would return for it alone (its
    :class:`TrainResult`, best weights loaded, on CPU), or the exception that ended it: what
    its ``on_epoch`` raised (a pruner's ``TrialPruned``) or a ``FloatingPointError`` when its
    validation loss is not finite. Members share ``params``' optimizer and batch size (the
    first member's); :data:`MEMBER_PARAMS` are each member's own. Raises
    ``NotStackableError`` before any training if the networks cannot be stacked.
    """
    n_members = len(networks)
    if not n_members or len(params) != n_members or len(score_fns) != n_members:
        raise ValueError("need one params mapping and one score function per network")
    device = data.device
    amp = amp_dtype(device)
    for network in networks:
        network.to(device)
    init = getattr(networks[0], "init_from_data", None)
    if init is not None:  # statistics of the rows, the same for every member: taken once
        init(data.X_train)
        buffers = {name for name, _ in networks[0].named_buffers()}  # statistics, not weights
        statistics = {k: v for k, v in networks[0].state_dict().items() if k in buffers}
        for network in networks[1:]:
            network.load_state_dict(statistics, strict=False)
    stacked = stack_networks(networks).to(device)
    limits = list(time_limits) if time_limits is not None else [None] * n_members
    callbacks = list(on_epochs) if on_epochs is not None else [None] * n_members
    members = []
    for network, recipe, score_fn, limit, callback in zip(networks, params, score_fns, limits, callbacks):
        planned = max(1, min(int(recipe["epochs"]), max_epochs))
        schedule = recipe.get("schedule", "cosine")
        lr_factor(schedule, 0.0)  # an unknown schedule fails before any training
        members.append(_Member(network, score_fn, callback, planned, planned, limit, schedule))

    def column(name: str, default: float) -> torch.Tensor:
        return torch.tensor([float(p.get(name, default)) for p in params], device=device)

    smoothing = column("label_smoothing", 0.0)
    if not isinstance(loss_fn, nn.CrossEntropyLoss):
        smoothing = torch.zeros_like(smoothing)
    clip = column("grad_clip", 0.0)
    optimizer = StackedOptimizer(
        params[0]["optimizer"], list(stacked.parameters()), column("lr", 0.0), column("weight_decay", 0.0)
    )
    generator = torch.Generator(device=device).manual_seed(seed)
    k = int(getattr(networks[0], "k", 1))  # rows a member computes per row (TabM-style)
    n, batch_size = len(data.X_train), int(params[0]["batch_size"])
    results: list[TrainResult | BaseException | None] = [None] * n_members
    alive = list(range(n_members))
    zero_smoothing = torch.zeros(n_members, device=device)
    epoch = 0
    while alive:
        epoch += 1
        epoch_started = time.monotonic()
        factors = torch.tensor(
            [lr_factor(members[i].schedule, (epoch - 1) / members[i].epochs) for i in alive],
            device=device,
        )
        stacked.train()
        order = torch.randperm(n, device=device, generator=generator)
        total, seen, out_of_time = torch.zeros(len(alive), device=device), 0, False
        part_rows = max(MIN_PART_ROWS, step_rows(device) // (len(alive) * k))
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2 and n > 1:  # batch norm cannot train on a single row
                continue
            optimizer.zero_grad()
            step_loss = torch.zeros(len(alive), device=device)
            for part in idx.split(part_rows):
                with autocast(device, amp):
                    out = stacked(data.X_train[part])
                    losses = member_losses(loss_fn, out, data.y_train[part], smoothing) * (len(part) / len(idx))
                losses.sum().backward()
                step_loss += losses.detach().float()
                if time.monotonic() >= deadline:
                    out_of_time = True
                    break
            if out_of_time:
                break  # the interrupted step is not taken
            clip_member_gradients(optimizer.parameters, clip)
            optimizer.step(factors)
            total += step_loss * len(idx)
            seen += len(idx)
            if time.monotonic() >= deadline:
                out_of_time = True
                break

        output = forward_stacked(stacked, data.X_val, amp)
        val_losses = member_losses(loss_fn, output, data.y_val, zero_smoothing[: len(alive)]).tolist()
        train_losses = (total / max(seen, 1)).tolist()
        seconds = time.monotonic() - epoch_started
        staying = []
        for position, i in enumerate(alive):
            member = members[i]
            record = {
                "epoch": epoch,
                "train_loss": train_losses[position],
                "val_loss": val_losses[position],
                "val_score": member.score_fn(output[position]),
            }
            member.history.append(record)
            member.used += seconds
            member.last = seconds
            ended = _end_of_epoch(member, record, position, output, stacked, patience, out_of_time)
            if isinstance(ended, BaseException):
                results[i] = ended
            elif ended is not None:
                results[i] = _result(member, ended)
            else:
                staying.append(position)
        if len(staying) < len(alive):
            keep = torch.tensor(staying, dtype=torch.long)
            alive = [alive[p] for p in staying]
            if alive:
                stacked.keep(staying)
                optimizer.keep(keep, list(stacked.parameters()))
                smoothing, clip = smoothing[keep.to(device)], clip[keep.to(device)]
    finished = [r for r in results if r is not None]
    assert len(finished) == n_members  # every member ends with a result or its error
    return finished


def _end_of_epoch(
    member: _Member,
    record: dict[str, float],
    position: int,
    output: torch.Tensor,
    stacked: StackedNetwork,
    patience: int,
    out_of_time: bool,
) -> str | BaseException | None:
    """How ``member`` goes on after an epoch: None (trains on), why it stopped, or its error."""
    val_loss = record["val_loss"]
    if not math.isfinite(val_loss):
        return FloatingPointError(f"validation loss is {val_loss} at epoch {record['epoch']}: training diverged")
    if val_loss < member.best_loss:
        member.best_loss, member.since_best = val_loss, 0
        member.best = {
            "epoch": record["epoch"],
            "score": record["val_score"],
            "output": output[position].clone(),
            "state": stacked.member_state(position),
        }
    else:
        member.since_best += 1
    if member.on_epoch is not None:
        try:
            member.on_epoch(record["epoch"], record)
        except Exception as exc:  # noqa: BLE001 - a pruner's TrialPruned, or the callback failing: the member ends
            return exc
    if member.time_limit is not None:
        member.epochs = fitting_epochs(
            member.planned, record["epoch"], member.time_limit - member.used, member.last
        )
    if out_of_time:
        return "time_budget"
    if record["epoch"] >= member.epochs:
        return "epochs"
    if member.since_best >= patience:
        return "early_stopping"
    return None


def _result(member: _Member, stopped_by: str) -> TrainResult:
    network = member.network
    network.load_state_dict({**network.state_dict(), **member.best["state"]})
    network.to("cpu").eval()
    return TrainResult(
        model=network,
        score=member.best["score"],
        val_output=member.best["output"].cpu().numpy().astype(np.float32, copy=False),
        best_epoch=member.best["epoch"],
        history=member.history,
        stopped_by=stopped_by,
    )
