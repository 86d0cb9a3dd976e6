"""A REINFORCE controller (Williams, 1992; Zoph & Le, 2017) as an Optuna sampler."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from automl_nas.samplers._history import HistorySampler, finished_trials
from automl_nas.samplers._scale import NumericDistribution, from_unit, to_unit


def _exact_values(dist: BaseDistribution, n_bins: int) -> tuple[Any, ...] | None:
    """The values a decision picks among directly, or ``None`` if the range must be binned.

    Categorical choices, and grids (int, or float with ``step``) of at most ``n_bins`` values.
    """
    if isinstance(dist, CategoricalDistribution):
        return tuple(dist.choices)
    if dist.step is None:
        return None
    n_values = round((dist.high - dist.low) / dist.step) + 1
    if n_values > n_bins:
        return None
    return tuple(from_unit(dist, to_unit(dist, dist.low + i * dist.step)) for i in range(n_values))


def _bin_edges(dist: NumericDistribution, n_bins: int) -> np.ndarray:
    """``n_bins + 1`` equally spaced edges on the (log-)scale of ``dist``.

    The range of a grid distribution is widened by half a step on each side so that its end
    values own as much of a bin as any other value once a draw is rounded to the grid.
    """
    half = dist.step / 2 if dist.step is not None else 0.0
    return np.linspace(to_unit(dist, dist.low - half), to_unit(dist, dist.high + half), n_bins + 1)


def _action_of(
    dist: BaseDistribution, values: tuple[Any, ...] | None, edges: np.ndarray | None, value: Any
) -> int | None:
    """The action that produces ``value``: its choice, nearest grid value or bin; ``None`` if none.

    Learning goes through the values a trial recorded, so trials proposed by other samplers,
    workers or ``enqueue_trial`` teach the policy as much as its own.
    """
    if isinstance(dist, CategoricalDistribution):
        return values.index(value) if value in values else None
    if values is not None:
        return int(np.argmin([abs(v - value) for v in values]))
    unit = to_unit(dist, min(max(value, dist.low), dist.high))
    return int(np.clip(np.searchsorted(edges, unit, side="right") - 1, 0, len(edges) - 2))


class _Decision:
    """One softmax policy over the actions of one parameter."""

    def __init__(self, dist: BaseDistribution, n_bins: int) -> None:
        self.dist = dist
        self.values = _exact_values(dist, n_bins)
        self.edges = None if self.values is not None else _bin_edges(dist, n_bins)
        n_actions = len(self.values) if self.values is not None else n_bins
        self.logits = torch.nn.Parameter(torch.zeros(n_actions, dtype=torch.float64))

    def sample(self, generator: torch.Generator) -> Any:
        """Draw an action from the policy; a binned action is a uniform draw inside its bin."""
        with torch.no_grad():
            probs = torch.softmax(self.logits, dim=0)
        action = int(torch.multinomial(probs, 1, generator=generator))
        if self.values is not None:
            return self.values[action]
        low, high = self.edges[action], self.edges[action + 1]
        u = float(torch.rand((), generator=generator, dtype=torch.float64))
        return from_unit(self.dist, low + u * (high - low))

    def action_of(self, value: Any) -> int | None:
        """The action that produces ``value`` (see :func:`_action_of`)."""
        return _action_of(self.dist, self.values, self.edges, value)


class ReinforceSampler(HistorySampler):
    """Samples each parameter from a softmax policy trained by REINFORCE on the trials' values.

    Each parameter is one decision with its own logits (independent softmaxes, as in the
    NAS-Bench-201 baseline). Int and float ranges are cut into ``n_bins`` equal bins on their
    (log-)scale and a sampled bin yields a uniform draw inside it, so the whole range stays
    reachable; small int grids use their exact values. After every finished trial the policy
    takes one Adam step on ``-(r - b) / s * log pi(a) - entropy_weight * H(pi)``, where ``r`` is
    the value (negated when minimizing), ``b`` an exponential moving average of past ``r`` and
    ``s`` the running standard deviation of ``r``, which makes ``lr`` independent of the
    objective's scale.

    The policy is rebuilt from the study: before sampling, the sampler learns, in trial-number
    order, from every finished trial it has not learned from yet, whoever proposed it. So it
    works in one process, resumes from an RDB storage, and learns from other workers' trials.

    Args:
        search_space: The distributions to learn. ``None`` infers them from the finished trials
            (the intersection of their parameters); trials before the first finished one are
            random.
        n_bins: How many bins an int or float range is cut into.
        lr: Adam learning rate of the logits.
        baseline_decay: Decay of the moving-average baseline.
        entropy_weight: Weight of the entropy bonus that keeps the policy from collapsing early.
        consider_pruned_trials: Whether a pruned trial is learned from with its last
            intermediate value as reward. Being stopped for looking worse than its peers is a
            signal, and under successive halving most trials are pruned.
        seed: Seed of the sampler's ``torch.Generator``.

    Example:
        >>> import optuna
        >>> sampler = ReinforceSampler(seed=0)
        >>> study = optuna.create_study(sampler=sampler, direction="maximize")
        >>> study.optimize(lambda t: t.suggest_categorical("op", ["a", "b", "c"]) == "b",
        ...                n_trials=30)
        >>> study.best_value
        1.0
    """

    def __init__(
        self,
        search_space: Mapping[str, BaseDistribution] | None = None,
        *,
        n_bins: int = 10,
        lr: float = 0.1,
        baseline_decay: float = 0.9,
        entropy_weight: float = 1e-3,
        consider_pruned_trials: bool = True,
        seed: int | None = None,
    ) -> None:
        if n_bins < 2:
            raise ValueError(f"n_bins must be at least 2, got {n_bins}")
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        super().__init__(search_space, consider_pruned_trials, seed)
        self._n_bins = n_bins
        self._lr = lr
        self._baseline_decay = baseline_decay
        self._entropy_weight = entropy_weight
        self._generator = torch.Generator()
        if seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(seed)
        self._decisions: dict[str, _Decision] = {}
        self._optimizer: torch.optim.Adam | None = None
        self._learned: set[tuple[str, int]] = set()
        self._baseline: float | None = None
        self._n_rewards = 0
        self._reward_mean = 0.0
        self._reward_m2 = 0.0
        # Optuna runs optimize(n_jobs>1) in threads that share this sampler.
        self._lock = threading.Lock()

    def reseed_rng(self) -> None:
        """Reseed the generator from fresh entropy (called per thread by ``n_jobs>1``)."""
        self._generator.seed()
        super().reseed_rng()

    def sample_relative(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        """Learn from newly finished trials, then draw every decision from the policy."""
        if not search_space:
            return {}
        with self._lock:
            changed = [
                name
                for name, dist in search_space.items()
                if name not in self._decisions or self._decisions[name].dist != dist
            ]
            for name in changed:
                self._decisions[name] = _Decision(search_space[name], self._n_bins)
            if changed:
                # A new space is rare (an inferred space growing): restarting Adam's moments
                # then is simpler than grafting parameters into the old optimizer.
                logits = [decision.logits for decision in self._decisions.values()]
                self._optimizer = torch.optim.Adam(logits, lr=self._lr)
            self._catch_up(study)
            return {name: self._decisions[name].sample(self._generator) for name in search_space}


    def _catch_up(self, study: optuna.Study) -> None:
        """Take one policy-gradient step per finished trial not learned from yet."""
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        for past, score in finished_trials(study, self._consider_pruned):
            key = (study.study_name, past.number)
            if key not in self._learned:
                self._learned.add(key)
                self._learn(past.params, sign * score)

    def _learn(self, params: Mapping[str, Any], reward: float) -> None:
        """One REINFORCE step on the decisions ``params`` sets, with ``reward`` to maximize."""
        self._n_rewards += 1
        delta = reward - self._reward_mean
        self._reward_mean += delta / self._n_rewards
        self._reward_m2 += delta * (reward - self._reward_mean)
        std = math.sqrt(self._reward_m2 / self._n_rewards)
        baseline = reward if self._baseline is None else self._baseline
        advantage = (reward - baseline) / std if std > 0 else 0.0
        self._baseline = self._baseline_decay * baseline + (1 - self._baseline_decay) * reward

        taken = [
            (decision, action)
            for name, decision in self._decisions.items()
            if name in params and (action := decision.action_of(params[name])) is not None
        ]
        if not taken:
            return
        loss = torch.zeros((), dtype=torch.float64)
        for decision, action in taken:
            log_probs = torch.log_softmax(decision.logits, dim=0)
            entropy = -(log_probs.exp() * log_probs).sum()
            loss = loss - advantage * log_probs[action] - self._entropy_weight * entropy
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()
