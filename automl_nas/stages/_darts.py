"""DARTS as a stage: search a supernet by gradient, enqueue its argmax architecture as a trial.

First-order DARTS (Liu et al. 2019): weight steps on the training split alternate with
architecture (alpha) steps on the validation split. The architecture is then discretised by
argmax and enqueued into the shared study, where it is trained, pruned and tracked like any trial.

DARTS is known to collapse to parameter-free operations, above all skip connections
(NAS-Bench-201: 54.3% test accuracy where random search gets 93.7%). Two guards are on by
default: the search stops early once more than ``max_skip`` edges are dominated by ``skip`` and
falls back to the last alphas with at most ``max_skip`` (DARTS+, Liang et al. 2019), and the
derived cell keeps at most ``max_skip`` skips (P-DARTS, Chen et al. 2019); an edge over the cap
gets its strongest operation with weights.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from automl_nas.nn import PARAMETER_FREE_OPS, Supernet
from automl_nas.search import SearchContext, optimize
from automl_nas.stages._base import BaseStage
from automl_nas.training import TensorData


def entropy(probs: Mapping[str, Sequence[float]]) -> float:
    """Mean entropy (nats) of the decisions with more than one candidate: falls as DARTS commits."""
    values = [
        -sum(p * math.log(p) for p in dist if p > 0) for dist in probs.values() if len(dist) > 1
    ]
    return float(np.mean(values)) if values else 0.0


def _strongest(probs: Sequence[float], choices: Sequence[Any], *excludes: set[str]) -> Any:
    """The likeliest candidate outside the first exclusion set that leaves any (else overall)."""
    for exclude in (*excludes, set()):
        allowed = [k for k, c in enumerate(choices) if not (isinstance(c, str) and c in exclude)]
        if allowed:
            return choices[max(allowed, key=lambda k: probs[k])]
    raise ValueError("a decision has no candidates")


def n_skips(probs: Mapping[str, Sequence[float]], decisions: Mapping[str, Sequence[Any]]) -> int:
    """Decisions whose strongest non-zero candidate is ``skip``."""
    return sum(_strongest(p, decisions[name], {"zero"}) == "skip" for name, p in probs.items())


def derive(
    probs: Mapping[str, Sequence[float]],
    decisions: Mapping[str, Sequence[Any]],
    max_skip: int | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The discrete architecture: each decision's strongest candidate, ``zero`` excluded (DARTS).

    With ``max_skip``, only the ``max_skip`` decisions most confident in ``skip`` keep it; the
    others take their strongest operation with weights (or, if they have none, their strongest
    other than skip and zero). Returns the params and the decisions the cap changed.

    Example:
        >>> derive({"op_0": [0.7, 0.3], "op_1": [0.6, 0.4]},
        ...        {"op_0": ["skip", "conv_3x3"], "op_1": ["skip", "conv_3x3"]}, max_skip=1)
        ({'op_0': 'skip', 'op_1': 'conv_3x3'}, ['op_1'])
    """
    chosen = {name: _strongest(p, decisions[name], {"zero"}) for name, p in probs.items()}
    skipping = [name for name, value in chosen.items() if value == "skip"]
    if max_skip is None or len(skipping) <= max_skip:
        return chosen, []
    skip_prob = {name: probs[name][list(decisions[name]).index("skip")] for name in skipping}
    capped = sorted(skipping, key=lambda name: -skip_prob[name])[max_skip:]
    for name in capped:
        chosen[name] = _strongest(
            probs[name], decisions[name], set(PARAMETER_FREE_OPS), {"skip", "zero"}
        )
    return chosen, [name for name in skipping if name in capped]


class DartsStage(BaseStage):
    """First-order DARTS on a supernet of the space; the derived architecture becomes a trial.

    The supernet is the space's relaxed form (:meth:`~automl_nas.space.SearchSpace.relaxed`):
    for :class:`~automl_nas.space.MLPSpace` it mixes depth, per-layer widths, activation, norm
    and skip, for :class:`~automl_nas.space.CellSpace` one operation per cell edge; a space
    without one raises ``TypeError``. It trains for ``epochs`` passes over the training split, or
    ``search_fraction`` of the stage's time, alternating an SGD weight step on a training batch
    with an Adam alpha step on a validation batch. The argmax architecture, with every other
    parameter at the space's default, is enqueued (``user_attrs``: ``stage="darts"``,
    ``darts_entropy`` per epoch, ``darts_stopped_by``, ``darts_capped``) and run as a normal trial.
    After :meth:`run`, ``history_`` holds the per-epoch trace (losses, entropy, skip count,
    architecture probabilities) and ``params_`` the derived architecture.

    Args:
        epochs: Passes over the training split.
        search_fraction: Share of the stage's time the supernet search may use; the rest is for
            training the derived trial.
        batch_size: Rows per weight step and per alpha step.
        weight_lr: SGD (momentum 0.9, cosine decay) learning rate of the supernet weights.
        arch_lr: Adam learning rate of the alphas (DARTS uses 3e-4 over ~20k steps; a
            CPU-sized search takes a few hundred).
        arch_weight_decay: L2 penalty on the alphas.
        max_skip: Collapse guard: most ``skip`` edges in a derived cell (None: unguarded DARTS).
        early_stop: With ``max_skip``, stop the search when more than ``max_skip`` edges are
            dominated by ``skip`` and derive from the last epoch that had at most ``max_skip``.
        n_trials: Trials this stage may start (the derived one, plus any queued before it).
        time_share: Fraction of the search's remaining time for this stage.

    Example:
        >>> stage = DartsStage(epochs=5, max_skip=2)
        >>> stage.name
        'darts'
    """

    name = "darts"
    needs_relaxed_space = True

    def __init__(
        self,
        *,
        epochs: int = 10,
        search_fraction: float = 0.5,
        batch_size: int = 64,
        weight_lr: float = 0.025,
        arch_lr: float = 3e-3,
        arch_weight_decay: float = 1e-3,
        max_skip: int | None = 2,
        early_stop: bool = True,
        n_trials: int | None = None,
        time_share: float | None = None,
    ) -> None:
        super().__init__(n_trials=n_trials, time_share=time_share)
        if epochs < 1 or batch_size < 1 or not 0 < search_fraction < 1:
            raise ValueError(
                f"need epochs >= 1, batch_size >= 1 and 0 < search_fraction < 1, got {epochs}, "
                f"{batch_size}, {search_fraction}"
            )
        if max_skip is not None and max_skip < 0:
            raise ValueError(f"max_skip must be >= 0 or None, got {max_skip}")
        self.epochs = epochs
        self.search_fraction = search_fraction
        self.batch_size = batch_size
        self.weight_lr = weight_lr
        self.arch_lr = arch_lr
        self.arch_weight_decay = arch_weight_decay
        self.max_skip = max_skip
        self.early_stop = early_stop

    def _build_supernet(self, context: SearchContext) -> Supernet:
        """The context space's relaxed form (global torch RNG: call inside ``fork_rng``)."""
        return context.space.relaxed(context.input_shape, context.n_outputs)

    def _run(
        self, study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
    ) -> None:
        if context.data is None or context.loss_fn is None or context.objective is None:
            raise ValueError(
                "DartsStage needs a SearchContext with data, loss_fn and objective, as "
                "AutoNASClassifier/AutoNASRegressor.fit builds it"
            )
        started = time.monotonic()
        seed = (
            context.seed
            if context.seed is not None
            else int(np.random.SeedSequence().entropy % 2**31)
        )
        device = context.data.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            supernet = self._build_supernet(context).to(device)
        generator = torch.Generator(device=device).manual_seed(seed)
        search_deadline = min(context.deadline, started + self.search_fraction * timeout)
        self.history_, stopped_by, probs = self._search(
            supernet, context.data, context.loss_fn, generator, search_deadline
        )
        derived, capped = derive(probs, supernet.decisions, self.max_skip)
        searched = context.space.distributions
        self.params_ = {name: value for name, value in derived.items() if name in searched}
        params = {**context.space.default_params(), **self.params_}
        study.enqueue_trial(
            params,
            user_attrs={
                "stage": self.name,
                "darts_entropy": [round(r["entropy"], 5) for r in self.history_],
                "darts_stopped_by": stopped_by,
                "darts_capped": capped,
            },
        )
        number = max(
            t.number for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        )
        self._run_enqueued(study, context, number, n_trials, started + timeout)

    def _search(
        self,
        supernet: Supernet,
        data: TensorData,
        loss_fn: torch.nn.Module,
        generator: torch.Generator,
        deadline: float,
    ) -> tuple[list[dict[str, Any]], str, dict[str, list[float]]]:
        """Alternate alpha and weight steps; return the trace, why it stopped, the final softmax."""
        weight_opt = torch.optim.SGD(
            supernet.weight_parameters(), lr=self.weight_lr, momentum=0.9, weight_decay=3e-4
        )
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(weight_opt, T_max=self.epochs)
        arch_opt = torch.optim.Adam(
            supernet.arch_parameters(),
            lr=self.arch_lr,
            betas=(0.5, 0.999),
            weight_decay=self.arch_weight_decay,
        )
        n_train, n_val = len(data.X_train), len(data.X_val)
        batch = min(self.batch_size, n_train, n_val)
        history = [self._record(supernet, 0, math.nan, math.nan)]
        # The alphas to derive from: the last epoch within the skip cap (or the start).
        last_ok = copy.deepcopy(history[0]["probs"])
        stopped_by = "epochs"
        supernet.train()
        for epoch in range(1, self.epochs + 1):
            train_order = torch.randperm(n_train, device=data.device, generator=generator)
            val_order = torch.randperm(n_val, device=data.device, generator=generator)
            losses = {"train": 0.0, "val": 0.0, "steps": 0}
            for step, start in enumerate(range(0, n_train - batch + 1, batch)):
                v = (step * batch) % (n_val - batch + 1)
                val_idx = val_order[v : v + batch]
                arch_opt.zero_grad(set_to_none=True)
                val_loss = loss_fn(supernet(data.X_val[val_idx]), data.y_val[val_idx])
                val_loss.backward()
                arch_opt.step()

                idx = train_order[start : start + batch]
                weight_opt.zero_grad(set_to_none=True)
                train_loss = loss_fn(supernet(data.X_train[idx]), data.y_train[idx])
                train_loss.backward()
                torch.nn.utils.clip_grad_norm_(supernet.weight_parameters(), 5.0)
                weight_opt.step()
                losses["train"] += train_loss.item()
                losses["val"] += val_loss.item()
                losses["steps"] += 1
                if time.monotonic() >= deadline:
                    stopped_by = "time_budget"
                    break
            schedule.step()
            steps = max(losses["steps"], 1)
            record = self._record(supernet, epoch, losses["train"] / steps, losses["val"] / steps)
            history.append(record)
            if self.max_skip is not None and record["n_skip"] > self.max_skip and self.early_stop:
                return history, "skip_dominance", last_ok
            last_ok = copy.deepcopy(record["probs"])
            if stopped_by == "time_budget" or time.monotonic() >= deadline:
                return history, "time_budget", last_ok
        return history, stopped_by, last_ok

    @staticmethod
    def _record(
        supernet: Supernet, epoch: int, train_loss: float, val_loss: float
    ) -> dict[str, Any]:
        """One epoch of the search trace."""
        probs = supernet.probabilities()
        return {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "entropy": entropy(probs),
            "n_skip": n_skips(probs, supernet.decisions),
            "probs": probs,
        }

    @staticmethod
    def _run_enqueued(
        study: optuna.Study,
        context: SearchContext,
        number: int,
        n_trials: int | None,
        stage_deadline: float,
    ) -> None:
        """Run queued trials until trial ``number`` has run (others may be queued before it)."""
        budget = math.inf if n_trials is None else n_trials
        while budget > 0 and study.get_trials(deepcopy=False)[number].state == TrialState.WAITING:
            # Queued trials ahead may spend the stage's share; the derived one still runs then.
            timeout = max(stage_deadline - time.monotonic(), 0.0) or context.remaining()
            if timeout <= 0:
                return
            optimize(study, context, n_trials=1, timeout=timeout)
            budget -= 1
