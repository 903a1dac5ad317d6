"""Equivariance check: workbench.checks.equivariance_report vs e3nn.util.test.equivariance_error.

Both evaluate the same module on the same number of random O(3) elements (half with
inversion). e3nn re-evaluates f(x) for every element; ours evaluates it once. The table gives
the time per call of each, their ratio (e3nn / ours, > 1 means ours is faster) and the largest
absolute error each found, which must agree in magnitude.
"""

from __future__ import annotations

import time

import pandas as pd
import torch
from e3nn import nn, o3
from e3nn.util.test import equivariance_error

from workbench.checks import equivariance_report

N_ELEMENTS = 16
REPEATS = 5


def _models() -> dict[str, tuple[torch.nn.Module, str, str]]:
    irreps = "16x0e + 8x1o + 4x2e"
    gate = nn.Gate("16x0e", [torch.tanh], "8x0e", [torch.sigmoid], "4x1o + 4x2e")
    tp = o3.FullyConnectedTensorProduct(irreps, irreps, gate.irreps_in)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tp, self.gate = tp, gate
            self.out = o3.Linear(gate.irreps_out, "4x0e + 2x1o")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.gate(self.tp(x, x)))

    return {
        "Linear 16x0e+8x1o+4x2e": (o3.Linear(irreps, irreps), irreps, irreps),
        "TP + Gate + Linear": (Net(), irreps, "4x0e + 2x1o"),
    }


def _best_time(fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for name, (module, irreps_in, irreps_out) in _models().items():
        x = torch.randn(32, o3.Irreps(irreps_in).dim)
        ours_t, report = _best_time(
            lambda m=module, i=irreps_in, o=irreps_out, x=x: equivariance_report(
                m, i, o, n_samples=N_ELEMENTS, inputs=x
            )
        )
        ref_t, errors = _best_time(
            lambda m=module, i=irreps_in, o=irreps_out, x=x: equivariance_error(
                m, [x], irreps_in=[o3.Irreps(i)], irreps_out=[o3.Irreps(o)], ntrials=N_ELEMENTS // 2
            )
        )
        rows.append(
            {
                "model": name,
                "ours ms": 1e3 * ours_t,
                "e3nn ms": 1e3 * ref_t,
                "e3nn / ours": ref_t / ours_t,
                "ours max abs err": report["abs_error"].max(),
                "e3nn max abs err": max(float(e.max()) for e in errors.values()),
            }
        )
    with pd.option_context("display.width", 160, "display.float_format", "{:.3g}".format):
        print(f"{N_ELEMENTS} group elements, batch 32, float32, 1 thread, best of {REPEATS}")
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
