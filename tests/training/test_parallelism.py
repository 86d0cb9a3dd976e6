"""How a search uses the CPU: parallel trials or threads per trial, never more than the cores."""

import torch

from automl_nas.training import available_cores, cpu_threads, plan_parallelism

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_default_uses_every_core(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert available_cores() <= 4
    cores = available_cores()
    assert plan_parallelism(None, CPU, serial=False) == (cores, 1)  # a trial per core
    assert plan_parallelism(None, CPU, serial=True) == (1, cores)  # one at a time on every core
    assert plan_parallelism(None, CUDA, serial=False) == (1, 1)


def test_explicit_n_jobs_shares_the_cores(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    cores = available_cores()
    assert plan_parallelism(1, CPU, serial=False) == (1, cores)
    assert plan_parallelism(cores * 2, CPU, serial=True) == (cores * 2, 1)  # never below one


def test_cpu_threads_sets_and_restores():
    before = torch.get_num_threads()
    with cpu_threads(CPU, 1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
