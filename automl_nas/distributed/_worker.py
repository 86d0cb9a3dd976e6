"""A worker process: join a running search through its storage and train trials until it ends."""

from __future__ import annotations

import os
import socket
import sys
import time

import optuna

from automl_nas.distributed._storage import make_storage
from automl_nas.search import (
    DiskTrialStore,
    SearchSpec,
    StudyAttr,
    TrialAttr,
    artifact_root,
    inside,
    is_failed_elsewhere,
    make_sampler,
    optuna_verbosity,
    sampler_name,
    started_trials,
)
from automl_nas.stages import BatchStage
from automl_nas.training import FreedMemoryKeeper, cpu_threads, keeper_growth, resolve_device


def _wait_for_search(storage: optuna.storages.BaseStorage, study_name: str, wait: float) -> optuna.Study:
    """The study once its coordinator has published the search spec (polls up to ``wait`` s)."""
    end = time.monotonic() + wait
    while True:
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            study = None
        if study is not None and StudyAttr.SPEC in study.user_attrs:
            return study
        if time.monotonic() >= end:
            raise TimeoutError(
                f"no search named {study_name!r} started in the storage within {wait:g}s: start "
                "the coordinator (AutoNAS*.fit with the same storage and study_name)"
            )
        time.sleep(0.5)


def run_worker(
    storage: str | optuna.storages.BaseStorage,
    study_name: str,
    *,
    n_trials: int | None = None,
    wait: float = 60.0,
    device: str = "auto",
    verbose: int = 0,
    artifact_dir: str | os.PathLike | None = None,
) -> int:
    """Train trials of the search ``study_name`` until its deadline or trial cap; return how many.

    The coordinator (``fit`` with the same ``storage`` and ``study_name``) publishes the search
    spec and its deadline in the study; this process loads the spec, so it trains on the same
    split with the same objective, proposes each trial with the sampler of the coordinator's
    current stage (TPE while the coordinator runs a stage that is not a sampler, e.g. DARTS),
    and writes each completed trial's model to the search's artifact directory, where the
    coordinator builds its ensemble from every process's trials. A worker started before its
    coordinator waits up to ``wait`` seconds for it.

    Args:
        storage: A storage URL (see ``make_storage``; heartbeats as the coordinator's) or an
            Optuna storage object (used as given).
        study_name: The coordinator's ``study_name``.
        n_trials: Stop after this many trials of this worker (None: only the search's limits).
        wait: Seconds to wait for the coordinator to publish the search.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        verbose: 1 prints one line per trial to stderr.
        artifact_dir: The coordinator's ``artifact_dir`` as this machine reaches it (default
            ``./automl_nas_artifacts``). The spec path the study announces must lie inside
            it, and the spec is read without running code from it, so a storage that someone
            else can write to cannot make this process run anything.
    """
    name = f"{socket.gethostname()}:{os.getpid()}"
    if verbose:
        print(f"[automl_nas worker {name}] waiting for search {study_name!r}", file=sys.stderr, flush=True)
    study = _wait_for_search(make_storage(storage), study_name, wait)
    if isinstance(storage, str) and study.user_attrs.get(StudyAttr.HEARTBEAT):
        interval, grace = study.user_attrs[StudyAttr.HEARTBEAT]
        storage = make_storage(storage, heartbeat_interval=interval, grace_period=grace)
        study = optuna.load_study(study_name=study_name, storage=storage)
    spec_path = inside(
        study.user_attrs[StudyAttr.SPEC], artifact_root(artifact_dir),
        "the spec path announced in the study",
    )
    spec = SearchSpec.load(spec_path)
    study.pruner = spec.pruner
    dev = resolve_device(device)
    context = spec.context(time.monotonic(), dev)
    store = DiskTrialStore(os.path.dirname(spec_path), spec.keep, study, spec.build)
    objective = spec.objective(context, store)
    objective.user_attrs[TrialAttr.WORKER] = name
    context.objective = objective
    samplers: dict[int, optuna.samplers.BaseSampler] = {}
    batch_stages: dict[int, BatchStage] = {}
    finished: list[optuna.trial.FrozenTrial] = []
    context.callbacks = [lambda s, t: finished.append(t)]
    ran = 0
    # One thread: workers are processes, started one per core.
    rows = context.data.X_train
    keeper = FreedMemoryKeeper(growth=keeper_growth(rows.numel() * rows.element_size()))
    with optuna_verbosity(verbose), cpu_threads(dev, 1), keeper:
        while n_trials is None or ran < n_trials:
            attrs = study.user_attrs
            left = attrs[StudyAttr.DEADLINE] - time.time()
            cap = attrs.get(StudyAttr.MAX_TRIALS)
            if left <= 0 or (cap is not None and started_trials(study) >= cap):
                break
            index = attrs.get(StudyAttr.STAGE, 0)
            worker_sampler = spec.worker_samplers[index]
            if index not in samplers:  # seed None: workers must not propose the same params
                samplers[index] = make_sampler(worker_sampler, spec.space, None)
            study.sampler = samplers[index]
            context.stage = sampler_name(worker_sampler)
            context.deadline = time.monotonic() + left
            batch = spec.worker_batches[index] if index < len(spec.worker_batches) else None
            try:
                if batch is None:
                    study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=context.callbacks)
                    ran += 1
                else:
                    context.stage = BatchStage.name
                    if index not in batch_stages:  # one per stage: it remembers architectures
                        batch_stages[index] = BatchStage(worker_sampler, members=batch or None)
                    stage = batch_stages[index]
                    mine = None if n_trials is None else n_trials - ran
                    room = None if cap is None else cap - started_trials(study)
                    limits = [n for n in (mine, room) if n is not None]
                    ran += stage.round(study, context, min(limits) if limits else None)
            except ValueError as exc:  # failed as stale by another process while it ran
                if not is_failed_elsewhere(exc):
                    raise
                continue
            if verbose:
                trial = finished[-1]
                value = "" if trial.value is None else f" value={trial.value:.4f}"
                print(
                    f"[automl_nas worker {name}] trial {trial.number} {trial.state.name}{value}"
                    f" | {ran} run here | {max(0.0, attrs[StudyAttr.DEADLINE] - time.time()):.0f}s left",
                    file=sys.stderr,
                    flush=True,
                )
    return ran
