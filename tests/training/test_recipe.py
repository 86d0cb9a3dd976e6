"""The training recipe a space may search: schedules, label smoothing, clipping, time limits,
ensemble members' loss and inputs statistics taken from the training rows."""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch import nn

from automl_nas.training import (
    SCHEDULES,
    TensorData,
    TooSlowForLimit,
    lr_factor,
    member_loss,
    train,
)
from automl_nas.training._trainer import (
    CPU_STEP_ROWS,
    PROBE_STEPS,
    PROBE_WARMUP_STEPS,
    STEP_ROWS,
    fitting_epochs,
    step_rows,
    training_loss,
)

PARAMS = {"lr": 1e-2, "weight_decay": 0.0, "batch_size": 16, "epochs": 8, "optimizer": "sgd"}


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 4, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long()
    return TensorData(X[:160], y[:160], X[160:], y[160:])


def run(data, model=None, time_limit=None, probe=False, **params):
    torch.manual_seed(0)
    model = model or nn.Linear(4, 2)
    return train(
        model, {**PARAMS, **params}, data, loss_fn=nn.CrossEntropyLoss(),
        score_fn=lambda out: 0.0, max_epochs=100, patience=100, seed=0,
        time_limit=time_limit, probe=probe,
    )


class Slow(nn.Linear):
    """5 ms a forward pass: an epoch of 160 rows in batches of 16 takes 50 ms or more.
    ``calls`` counts its training passes (not the eval-mode pass that counts its operations)."""

    calls = 0

    def forward(self, x):
        self.calls += self.training
        time.sleep(0.005)
        return super().forward(x)


def test_schedules_start_at_the_rate_and_cosines_end_at_zero():
    for schedule in SCHEDULES:
        assert lr_factor(schedule, 0.0) == 1.0
    assert lr_factor("cosine", 1.0) == pytest.approx(0.0)
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("flat_cosine", 0.5) == 1.0 and lr_factor("flat_cosine", 0.75) == pytest.approx(0.5)
    assert lr_factor("constant", 0.9) == 1.0
    with pytest.raises(ValueError, match="Unknown schedule"):
        lr_factor("step", 0.1)


def test_each_schedule_sets_the_rate_of_every_epoch(data, monkeypatch):
    seen = []
    real_step = torch.optim.SGD.step

    def step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", step)
    for schedule in SCHEDULES:
        seen.clear()
        run(data, schedule=schedule)
        per_epoch = seen[:: math.ceil(160 / 16)]
        expected = [1e-2 * lr_factor(schedule, e / 8) for e in range(8)]
        assert per_epoch == pytest.approx(expected), schedule


def test_members_are_scored_against_the_same_targets():
    target = torch.tensor([0, 1, 1])
    members = torch.randn(3, 4, 2)
    loss = member_loss(nn.CrossEntropyLoss(), members, target)
    each = [nn.CrossEntropyLoss()(members[:, i], target) for i in range(4)]
    torch.testing.assert_close(loss, torch.stack(each).mean())
    regression = torch.randn(3, 4, 1)
    y = torch.randn(3, 1)
    torch.testing.assert_close(
        member_loss(nn.MSELoss(), regression, y),
        torch.stack([nn.MSELoss()(regression[:, i], y) for i in range(4)]).mean(),
    )


def test_label_smoothing_only_for_cross_entropy():
    assert training_loss(nn.CrossEntropyLoss(), {"label_smoothing": 0.1}).label_smoothing == 0.1
    assert isinstance(training_loss(nn.MSELoss(), {"label_smoothing": 0.1}), nn.MSELoss)
    plain = nn.CrossEntropyLoss()
    assert training_loss(plain, {}) is plain


def test_gradient_clipping_bounds_the_first_step(data):
    big = {"lr": 1.0, "epochs": 1, "batch_size": 160}
    free = run(data, **big).model.weight.detach().clone()
    clipped = run(data, grad_clip=1e-3, **big).model.weight.detach()
    torch.manual_seed(0)
    start = nn.Linear(4, 2).weight.detach()
    # Nesterov SGD's first step is (1 + momentum) * lr * gradient: 1.9 x the clipped norm.
    assert (clipped - start).norm() <= 1.9e-3 + 1e-6 < (free - start).norm()


def test_time_limit_cuts_epochs_and_still_ends_the_schedule(data):
    started = time.monotonic()
    result = run(data, model=Slow(4, 2), epochs=1000, time_limit=0.6)
    elapsed = time.monotonic() - started
    assert 1 < len(result.history) < 1000 and result.stopped_by == "epochs"
    assert elapsed < 1.5


def test_a_probed_run_gives_up_in_its_first_epoch_when_two_would_not_fit(data):
    model = Slow(4, 2)
    with pytest.raises(TooSlowForLimit, match="of a 0.08 s limit") as caught:
        run(data, model=model, time_limit=0.08, probe=True)
    # Decided after PROBE_STEPS timed steps, or fewer once they took PROBE_SHARE of the
    # threshold: within the first epoch (10 steps) either way.
    assert PROBE_WARMUP_STEPS < model.calls <= PROBE_WARMUP_STEPS + PROBE_STEPS < 10
    assert caught.value.epoch_seconds > 0.04 and caught.value.time_limit == pytest.approx(0.08)
    # Unprobed, the same run trains its one epoch past the limit; with room, a probed run trains.
    assert len(run(data, model=Slow(4, 2), time_limit=0.08).history) == 1
    assert len(run(data, model=Slow(4, 2), time_limit=0.6, probe=True).history) > 1


class SlowCounting(Slow):
    """Slow, and counts its passes in eval mode (the validation pass)."""

    eval_calls = 0

    def forward(self, x):
        self.eval_calls += not self.training
        return super().forward(x)


def test_warm_up_steps_past_the_threshold_give_up_without_timing_more(data):
    model = Slow(4, 2)
    # 5 ms a step against a 2 ms threshold (half of a 4 ms limit): the first step decides
    with pytest.raises(TooSlowForLimit, match="of a 0.00 s limit"):
        run(data, model=model, time_limit=0.004, probe=True)
    assert model.calls == 1


def test_a_step_of_many_parts_gives_up_between_its_parts(monkeypatch):
    # parts of 64 rows: 8 a step of 512
    monkeypatch.setattr("automl_nas.training._trainer.CPU_STEP_ROWS", 64)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2_048 + 64, 4, generator=g)
    y = (X[:, 0] > 0).long()
    many = TensorData(X[:2_048], y[:2_048], X[2_048:], y[2_048:])
    model = Slow(4, 2)
    # 5 ms a part, 40 ms a step, 160 ms an epoch, against a 10 ms threshold: the first parts
    # decide, not the end of the first step
    with pytest.raises(TooSlowForLimit) as caught:
        run(many, model=model, time_limit=0.02, probe=True, batch_size=512)
    assert model.calls < 512 // 64
    assert caught.value.epoch_seconds > 0.1 and caught.value.time_limit == pytest.approx(0.02)
    # with room for two epochs the same parts train on
    assert len(run(many, model=Slow(4, 2), time_limit=2.0, probe=True, batch_size=512,
                   epochs=2).history) == 2


@pytest.mark.parametrize("probe", [True, False])
def test_a_probed_run_cut_within_its_first_epoch_gives_up_before_its_validation_pass(data, probe):
    model = SlowCounting(4, 2)
    kwargs = dict(loss_fn=nn.CrossEntropyLoss(), score_fn=lambda out: 0.0, max_epochs=100,
                  patience=100, seed=0, probe=probe)
    # no time limit (nothing to probe against): only the deadline, 3-4 of the epoch's 10 steps
    deadline = time.monotonic() + 0.018
    if probe:  # the caller has a model: this one ends, as too slow, with no validation pass
        with pytest.raises(TooSlowForLimit) as caught:
            train(model, PARAMS, data, deadline=deadline, **kwargs)
        assert model.eval_calls == 0 and model.calls < 10
        assert caught.value.epoch_seconds > 0.04  # 10 steps of 5 ms, projected from those run
    else:  # the first model of a search: scored, so the search never ends with none
        result = train(model, PARAMS, data, deadline=deadline, **kwargs)
        assert result.stopped_by == "time_budget" and len(result.history) == 1
        assert model.eval_calls > 0


def test_fitting_epochs_follows_the_pace():
    assert fitting_epochs(planned=100, done=1, seconds_left=9.0, last_epoch_seconds=1.0) == 10
    assert fitting_epochs(planned=5, done=1, seconds_left=9.0, last_epoch_seconds=1.0) == 5
    assert fitting_epochs(planned=100, done=3, seconds_left=-1.0, last_epoch_seconds=1.0) == 3


def test_a_network_takes_its_input_statistics_from_the_training_rows(data):
    class Centred(nn.Linear):
        def init_from_data(self, X):
            self.register_buffer("mean", X.mean(0))

        def forward(self, x):
            return super().forward(x - self.mean)

    model = run(data, model=Centred(4, 2), epochs=1).model
    torch.testing.assert_close(model.mean, data.X_train.mean(0))


def test_a_batch_split_into_parts_takes_the_same_step(data, monkeypatch):
    """Large steps accumulate their gradient over parts (``step_rows``): the same update."""
    import automl_nas.training._trainer as trainer

    whole = run(data, epochs=2, batch_size=160).model.weight.detach().clone()
    monkeypatch.setattr(trainer, "CPU_STEP_ROWS", 32)  # these tests train on CPU
    monkeypatch.setattr(trainer, "MIN_PART_ROWS", 8)
    parts = run(data, epochs=2, batch_size=160).model.weight.detach()
    torch.testing.assert_close(parts, whole)


def test_parts_are_smaller_on_cpu_than_on_an_accelerator():
    assert step_rows(torch.device("cpu")) == CPU_STEP_ROWS < STEP_ROWS
    assert step_rows(torch.device("cuda")) == STEP_ROWS
