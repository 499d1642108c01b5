"""Thread pools: sized per fit, effective during it, restored afterwards."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from skdgating import (DGatingGroupLasso, DGatingLogisticGroupLasso, DGatingMLPClassifier,
                       DGatingMLPRegressor)
from skdgating import _solvers, _threads
from skdgating._modules import MLP


def _pool_sizes():
    return sorted((d["user_api"], d["filepath"], d["num_threads"]) for d in threadpool_info())


@pytest.fixture
def machine(monkeypatch):
    """A simulated machine: ``machine(cores, load)`` sets its cores and load average."""
    def set_machine(cores, load):
        monkeypatch.setattr(_threads, "available_cores", lambda: cores)
        monkeypatch.setattr(_threads.os, "getloadavg", lambda: (load, load, load))
        monkeypatch.setattr(_threads, "current_pool_size", lambda: cores)
    return set_machine


def test_small_work_gets_one_thread_even_on_an_idle_many_core_machine(machine):
    machine(16, 0.0)
    # an MLP step at the default batch size: a few million flops
    assert _threads.resolve_n_threads(None, 6 * 32 * 100 * 64) == 1


def test_large_work_uses_the_idle_cores(machine):
    machine(16, 0.5)  # only this process runs
    assert _threads.resolve_n_threads(None, 100 * _threads.FLOPS_PER_THREAD) == 16
    assert _threads.resolve_n_threads(None, 3.5 * _threads.FLOPS_PER_THREAD) == 4


def test_busy_machine_caps_the_pool(machine):
    machine(16, 15.2)  # 15 cores busy with other work besides this process
    assert _threads.resolve_n_threads(None, 1e12) == 2
    machine(2, 2.0)  # a 2-core machine with a busy neighbour
    assert _threads.resolve_n_threads(None, 1e12) == 1


def test_automatic_size_respects_the_environment_caps(machine, monkeypatch):
    machine(16, 0.0)
    monkeypatch.setattr(_threads, "current_pool_size", lambda: 3)  # e.g. OMP_NUM_THREADS=3
    assert _threads.resolve_n_threads(None, 1e12) == 3


def test_explicit_counts_follow_n_jobs_conventions(machine):
    machine(8, 7.0)  # explicit values ignore the load
    assert _threads.resolve_n_threads(3, 0) == 3
    assert _threads.resolve_n_threads(-1, 0) == 8
    assert _threads.resolve_n_threads(-2, 0) == 7
    assert _threads.resolve_n_threads(-20, 0) == 1


@pytest.mark.parametrize("bad, error", [(0, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)])
def test_bad_n_threads_is_refused_by_every_estimator(bad, error):
    X, y = np.random.RandomState(0).randn(40, 3), np.arange(40) % 2
    for est in (DGatingMLPClassifier(max_epochs=1), DGatingLogisticGroupLasso()):
        with pytest.raises(error, match="n_threads"):
            est.set_params(n_threads=bad).fit(X, y)


def test_thread_limits_applies_and_restores_also_on_error():
    before, torch_before = _pool_sizes(), torch.get_num_threads()
    target = 2 if torch_before == 1 else 1
    with _threads.thread_limits(target, 0):
        assert torch.get_num_threads() == target
        assert {d["num_threads"] for d in threadpool_info()} == {target}
    assert _pool_sizes() == before and torch.get_num_threads() == torch_before
    with pytest.raises(RuntimeError, match="boom"), _threads.thread_limits(target, 0):
        raise RuntimeError("boom")
    assert _pool_sizes() == before and torch.get_num_threads() == torch_before


def _record_threads(monkeypatch, module_class):
    """The torch thread count at every forward pass and at every training step (the
    hand-written backward pass that ``training_step`` prepares once per epoch) of
    ``module_class``: a dict of two lists, so a test can require both to have run."""
    seen = {"forward": [], "step": []}
    forward, training_step = module_class.forward, module_class.training_step

    def recording_forward(self, *args, **kwargs):
        seen["forward"].append(torch.get_num_threads())
        return forward(self, *args, **kwargs)

    def recording_training_step(self, criterion):
        step = training_step(self, criterion)

        def recording_step(*args):
            seen["step"].append(torch.get_num_threads())
            return step(*args)

        return recording_step

    monkeypatch.setattr(module_class, "forward", recording_forward)
    monkeypatch.setattr(module_class, "training_step", recording_training_step)
    return seen


@pytest.mark.parametrize("n_threads", [1, 2])
def test_mlp_trains_with_the_requested_pool(monkeypatch, n_threads):
    seen = _record_threads(monkeypatch, MLP)
    X = np.random.RandomState(0).randn(64, 4)
    y = X[:, 0] + 0.1 * np.random.RandomState(1).randn(64)
    before, torch_before = _pool_sizes(), torch.get_num_threads()
    DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=2, n_threads=n_threads,
                        random_state=0).fit(X, y)
    assert seen["step"]  # the training steps ran, each with the requested pool
    assert set(seen["step"]) | set(seen["forward"]) == {n_threads}
    assert _pool_sizes() == before and torch.get_num_threads() == torch_before


@pytest.mark.parametrize("n_threads", [1, 2])
def test_linear_solver_runs_with_the_requested_pool(monkeypatch, n_threads):
    seen = []
    solve_path = _solvers.solve_path

    def recording_solve_path(*args, **kwargs):
        seen.append({d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"})
        yield from solve_path(*args, **kwargs)

    monkeypatch.setattr(_solvers, "solve_path", recording_solve_path)
    rng = np.random.RandomState(0)
    X = rng.randn(60, 6)
    y = X[:, 0] - X[:, 1] + 0.1 * rng.randn(60)
    before = _pool_sizes()
    DGatingGroupLasso(D=2, alpha=0.05, n_threads=n_threads).fit(X, y)
    assert seen == [{n_threads}]
    assert _pool_sizes() == before


@pytest.mark.parametrize("Est", [DGatingGroupLasso, DGatingLogisticGroupLasso])
def test_linear_predictions_run_with_the_requested_pool(monkeypatch, Est):
    import contextlib

    from skdgating import linear

    seen, limits = [], linear.thread_limits

    @contextlib.contextmanager
    def recording_limits(*args):
        with limits(*args):
            seen.append({d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"})
            yield

    rng = np.random.RandomState(0)
    X = rng.randn(60, 6)
    y = X[:, 0] - X[:, 1] + 0.1 * rng.randn(60)
    est = Est(D=2, alpha=0.01, n_threads=1).fit(X, y if Est is DGatingGroupLasso else y > 0)
    monkeypatch.setattr(linear, "thread_limits", recording_limits)
    before = _pool_sizes()
    est.n_threads = 2  # not the pool size the tests run with (1)
    est.predict(X)
    assert seen == [{2}]
    assert _pool_sizes() == before


def test_stacked_training_runs_with_the_requested_pool(monkeypatch):
    from skdgating._modules import StackedMLP
    from skdgating._training import train_stacked

    seen = _record_threads(monkeypatch, StackedMLP)
    rng = np.random.RandomState(0)
    X = rng.randn(50, 4)
    y = X[:, 0] + 0.1 * rng.randn(50)
    params = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=2, random_state=0, n_threads=2).get_params()
    torch_before = torch.get_num_threads()
    train_stacked(X, y, np.ones((2, 50), bool), [0.01, 0.02], params, classification=False)
    assert seen["step"] and set(seen["step"]) | set(seen["forward"]) == {2}
    assert torch.get_num_threads() == torch_before
