"""One trial: sample params, build the network, train it, report every epoch, keep the best."""

from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from automl_nas.space import SearchSpace
from automl_nas.training import Metric, TensorData, forward_all, train


@dataclass
class TrialModel:
    """A trained trial: its network (CPU, eval mode), params and held-out outputs."""

    number: int
    value: float
    params: dict[str, Any]
    model: nn.Module
    val_output: np.ndarray
    n_params: int


class ModelStore:
    """The ``keep`` best trained trials of a search, safe to fill from several threads."""

    def __init__(self, keep: int, maximize: bool) -> None:
        self.keep = keep
        self.maximize = maximize
        self._models: dict[int, TrialModel] = {}
        self._lock = threading.Lock()

    def offer(self, entry: TrialModel) -> None:
        """Keep ``entry`` if it ranks among the best ``keep`` trials so far."""
        with self._lock:
            self._models[entry.number] = entry
            ranked = self.ranked()
            for dropped in ranked[self.keep :]:
                del self._models[dropped.number]

    def ranked(self) -> list[TrialModel]:
        """Kept trials, best first (ties: earlier trial first)."""
        sign = -1.0 if self.maximize else 1.0
        return sorted(self._models.values(), key=lambda m: (sign * m.value, m.number))


class TrialObjective:
    """The Optuna objective every stage runs: the same training whatever proposed the trial.

    The trial records ``stage``, ``n_params``, ``history`` (per-epoch losses and score),
    ``train_seconds``, ``best_epoch``, ``stopped_by`` and, on failure, ``error`` in its user
    attributes, so trackers and leaderboards need nothing but the study.
    """

    def __init__(
        self,
        *,
        space: SearchSpace,
        data: TensorData,
        y_val: np.ndarray,
        input_shape: tuple[int, ...],
        n_outputs: int,
        loss_fn: nn.Module,
        metric: Metric,
        decode: Any,
        max_epochs: int,
        patience: int,
        seed: int,
        deadline: float,
        store: ModelStore,
        context: Any,
    ) -> None:
        self.space = space
        self.data = data
        self.y_val = y_val
        self.input_shape = input_shape
        self.n_outputs = n_outputs
        self.loss_fn = loss_fn
        self.metric = metric
        self.decode = decode
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed
        self.deadline = deadline
        self.store = store
        self.context = context

    def score(self, output: torch.Tensor) -> float:
        """The metric on validation outputs (decoded to probabilities / original units)."""
        return self.metric(self.y_val, self.decode(output.cpu().numpy()))

    def __call__(self, trial: optuna.Trial) -> float:
        if "stage" not in trial.user_attrs:  # enqueued trials arrive labelled by their proposer
            trial.set_user_attr("stage", self.context.stage)
        params = self.space.sample(trial)
        seed = (self.seed + trial.number) % (2**31)
        history: list[dict[str, float]] = []

        def report(epoch: int, record: dict[str, float]) -> None:
            history.append(record)
            trial.report(record["val_score"], epoch)
            if trial.should_prune():
                trial.set_user_attr("history", history)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        started = time.perf_counter()
        devices = [self.data.device] if self.data.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                model = self.space.build(params, self.input_shape, self.n_outputs)
                n_params = sum(p.numel() for p in model.parameters())
                trial.set_user_attr("n_params", n_params)
                result = train(
                    model,
                    params,
                    self.data,
                    loss_fn=self.loss_fn,
                    score_fn=self.score,
                    max_epochs=self.max_epochs,
                    patience=self.patience,
                    seed=seed,
                    deadline=self.deadline,
                    on_epoch=report,
                )
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("error", "".join(traceback.format_exception_only(exc)).strip())
            trial.set_user_attr("traceback", traceback.format_exc(limit=5))
            raise
        finally:
            trial.set_user_attr("train_seconds", time.perf_counter() - started)
        trial.set_user_attr("history", history)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("stopped_by", result.stopped_by)
        if not math.isfinite(result.score):
            raise FloatingPointError(f"validation {self.metric.name} is {result.score}")
        self.store.offer(
            TrialModel(
                trial.number, result.score, params, result.model,
                self.decode(result.val_output), n_params,
            )
        )
        return result.score


def predict_output(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Raw network outputs for ``X`` on CPU, in the dtype of the model's weights."""
    dtype = next(model.parameters()).dtype
    tensor = torch.as_tensor(np.ascontiguousarray(X), dtype=dtype)
    return forward_all(model, tensor).numpy()
