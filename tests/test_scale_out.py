"""Model search beyond one process: a Dask cluster through joblib, and thread limits."""

import json
import os
import subprocess
import sys

import distributed
import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV

from skdgating import DGatingGroupLasso, DGatingGroupLassoCV, DGatingMLPRegressor
from skdgating.datasets import make_group_problem

X, y, _ = make_group_problem(200, 10, 2, 3, rho=0.3, snr=3.0, random_state=0)
GRID = {"alpha": [0.01, 0.1], "D": [2, 3]}
MLP = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=10, random_state=0)


def test_gridsearch_and_cv_estimator_on_a_dask_cluster_match_the_local_run():
    local_search = GridSearchCV(DGatingGroupLasso(groups=2, random_state=0), GRID, cv=3).fit(X, y)
    local_cv = DGatingGroupLassoCV(groups=2, D=3, alphas=5, cv=3, random_state=0).fit(X, y)
    local_mlp = GridSearchCV(MLP, {"alpha": [0.005, 0.05]}, cv=2).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(DGatingGroupLasso(groups=2, random_state=0), GRID, cv=3, n_jobs=-1).fit(X, y)
            cv = DGatingGroupLassoCV(groups=2, D=3, alphas=5, cv=3, n_jobs=-1, random_state=0).fit(X, y)
            mlp_search = GridSearchCV(MLP, {"alpha": [0.005, 0.05]}, cv=2, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], local_search.cv_results_["mean_test_score"])
    assert search.best_params_ == local_search.best_params_
    np.testing.assert_array_equal(cv.cv_results_["mean_test_score"], local_cv.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(cv.coef_, local_cv.coef_)
    # the MLP is seeded by random_state and one torch thread per worker: same scores
    np.testing.assert_allclose(mlp_search.cv_results_["mean_test_score"],
                               local_mlp.cv_results_["mean_test_score"], rtol=1e-6)


def test_parallel_workers_do_not_oversubscribe_torch_threads():
    # joblib's loky workers start with OMP_NUM_THREADS = cpu_count // n_jobs, which torch
    # reads at import; skdgating must keep it: importing it and fitting an MLP in a
    # worker (as GridSearchCV(n_jobs=2) does) leaves torch's thread count unchanged.
    # Run in a fresh process without the test suite's thread pinning.
    code = (
        "import json, joblib\n"
        "def fit_in_worker(seed):\n"
        "    import numpy as np, torch\n"
        "    before = torch.get_num_threads()\n"
        "    from skdgating import DGatingMLPRegressor\n"
        "    X = np.random.default_rng(seed).standard_normal((40, 3))\n"
        "    DGatingMLPRegressor(hidden_layer_sizes=(4,), max_epochs=2, random_state=seed).fit(X, X[:, 0])\n"
        "    return before, torch.get_num_threads()\n"
        "print(json.dumps(joblib.Parallel(n_jobs=2)(joblib.delayed(fit_in_worker)(s) for s in range(2))))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         timeout=120)
    per_worker = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(after == before for before, after in per_worker), per_worker
    assert max(after for _, after in per_worker) <= max(1, (os.cpu_count() or 1) // 2)
