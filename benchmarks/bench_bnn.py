"""Benchmark of notebook 06: a mean-field Bayesian neural network vs the bootstrap ensemble.

Runs the *reference solution itself*: the cells of ``solutions/06_uncertainty_and_ensembles.ipynb``
from its setup through the 1-D aleatoric/epistemic experiment (ensemble, single network, five
seeds) and the mean-field BNN section (``BayesLinear``, ``kl_to_prior``, ``elbo_loss``, the
read-only ``BNN``), then prints the section's calibration table: |error| of the predictive mean,
predictive std, epistemic std off/on the data, and the share of held-out targets inside the 90%
predictive interval, on and off the data, mean ± s.e. over the five seeds; with each model's
training time.

Usage::

    python benchmarks/bench_bnn.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MBRL_FAST", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import load_cells, machine  # noqa: E402

NOTEBOOK = "06_uncertainty_and_ensembles"
#: the ensemble and the 1-D toy over seeds (the BNN is compared with those models), then the BNN
CELLS = ["setup", "tools_from_05", "gaussian_nll", "bound_log_var", "bootstrap_indices",
         "gaussian_ensemble", "train_ensemble", "toy_train", "toy_plot", "toy_seeds",
         "bayes_linear", "kl_to_prior", "elbo_loss", "bnn_model"]


def main(argv: list[str] | None = None) -> int:
    if argv:
        raise SystemExit("bench_bnn.py takes no arguments")
    print("notebook 06 benchmark: mean-field BNN vs bootstrap ensemble on the 1-D toy")
    print("(the cells of the earlier sections print their own lines first)\n")
    ns = load_cells(NOTEBOOK, CELLS)
    print(f"\nmachine: {machine()}\n")
    for cell in ["bnn_toy", "bnn_seeds"]:
        start = time.perf_counter()
        load_cells(NOTEBOOK, [cell], into=ns)
        print(f"[{cell}: {time.perf_counter() - start:.1f} s]\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
