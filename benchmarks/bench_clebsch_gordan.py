"""Clebsch-Gordan tensors and symmetric powers: workbench.groups vs lie-nn, cold and cached.

Every timing is one call in a fresh process with one BLAS thread, imports excluded (ours:
with an empty disk cache, so it includes building the irreps; "disk" is a second process
reading the cache; "memory" a repeated call). lie-nn has no cache, so its cold time is what
every call costs. Each row also gives the intertwiner error of the result,
max |X_c C - C (X_a x 1 + 1 x X_b)|: lie-nn 0.0.0's tabulated SU(3) coefficients are wrong
and its Lorentz (4,4) case fails, so its "generic" solver is shown too. Needs lie-nn
(``make bench`` installs the ``bench`` extra).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pandas as pd

from benchmarks import _lie_nn

# (our group, our labels, lie-nn group, lie-nn labels)
TRIPLES = [
    ("SO3()", (4, 4, 4), "SO3", (4, 4, 4)),
    ("Lorentz()", ("(2,2)", "(2,2)", "(4,4)"), "SO13", ((2, 2), (2, 2), (4, 4))),
    ("SU(3)", ("(1,1)", "(1,1)", "(2,2)"), "SU3", ((2, 1, 0), (2, 1, 0), (4, 2, 0))),
    ("SU(3)", ("(1,1)", "(1,1)", "(1,1)"), "SU3", ((2, 1, 0), (2, 1, 0), (2, 1, 0))),
]
# (our group, irreps, k, lie-nn group, lie-nn label)
SYMMETRIC = [
    ("Lorentz()", "(1,1)", 2, "SO13", (1, 1)),
    ("Lorentz()", "(1,1)", 3, "SO13", (1, 1)),
    ("SO3()", "4", 2, "SO3", 4),
    ("SU(3)", "(1,0)", 2, "SU3", (1, 0, 0)),
]

_OURS = """
import json, time, torch
from workbench.groups import *
import workbench.groups.clebsch_gordan  # imports (scipy.sparse, ...) are not part of the timing
torch.load  # noqa
group = {group}
a, b, c = (group.irrep(x) for x in {labels!r})
start = time.perf_counter(); C = group.cg(a, b, c); first = time.perf_counter() - start
start = time.perf_counter(); group.cg(a, b, c); again = time.perf_counter() - start
Xa, Xb, Xc = group.generators(a), group.generators(b), group.generators(c)
C = C.to(Xa.dtype)
lhs = torch.einsum("pijk,xia->xpajk", C, Xa) + torch.einsum("pijk,xjb->xpibk", C, Xb)
rhs = torch.einsum("xkl,pijl->xpijk", Xc, C)
print(json.dumps({{"seconds": first, "memory": again, "shape": list(C.shape),
                  "error": float((lhs - rhs).abs().max())}}))
"""


def _ours(group: str, labels: tuple, cache: str) -> dict:
    env = os.environ | {
        "WORKBENCH_CACHE_DIR": cache,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    code = _OURS.format(group=group, labels=labels)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _lie(group: str, labels: tuple, method: str) -> _lie_nn.ColdCG | str:
    try:
        return _lie_nn.measure_clebsch_gordan_cold(group, *labels, method=method, timeout=900)
    except ImportError as err:
        return str(err)


def main() -> None:
    rows = []
    for ours_group, labels, lie_group, lie_labels in TRIPLES:
        with tempfile.TemporaryDirectory() as cache:
            cold = _ours(ours_group, labels, cache)
            disk = _ours(ours_group, labels, cache)
        row = {
            "triple": f"{ours_group} {' x '.join(map(str, labels[:2]))} -> {labels[2]}",
            "paths": cold["shape"][0],
            "ours cold s": cold["seconds"],
            "ours disk s": disk["seconds"],
            "ours memory s": cold["memory"],
            "ours error": cold["error"],
        }
        for method in ("tabulated", "generic"):
            result = _lie(lie_group, lie_labels, method)
            if isinstance(result, str):
                row[f"lie-nn {method}"] = result
                continue
            if result.error:
                row[f"lie-nn {method} s"] = f"failed after {result.seconds:.1f} s"
            else:
                row[f"lie-nn {method} s"] = result.seconds
                row[f"lie-nn {method} error"] = result.intertwiner_error
                row[f"{method} / ours cold"] = result.seconds / cold["seconds"]
        rows.append(row)
    with pd.option_context(
        "display.width", 250, "display.max_columns", 30, "display.float_format", "{:.3g}".format
    ):
        print("Clebsch-Gordan, cold = first call in a fresh process, 1 thread")
        print(pd.DataFrame(rows).T.to_string(header=False))

    rows = []
    for ours_group, irreps, k, lie_group, lie_label in SYMMETRIC:
        code = (
            f"from workbench.groups import *; g = {ours_group}; "
            f"s = g.symmetric_power({irreps!r}, {k}); print(s.dim, '|', s)"
        )
        ours = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        try:
            lie = _lie_nn.symmetric_power(lie_group, lie_label, k, timeout=900)
            lie_dim = lie.dim if lie.error is None else f"failed: {lie.error[:40]}"
            expected = lie.expected
        except ImportError as err:
            lie_dim, expected = str(err), None
        rows.append(
            {
                "group": ours_group,
                "V": irreps,
                "k": k,
                "C(d+k-1,k)": expected,
                "ours dim": int(ours.split("|")[0]),
                "lie-nn dim": lie_dim,
                "ours irreps": ours.split("|")[1].strip(),
            }
        )
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print("\nSymmetric powers Sym^k V: dimensions must be C(d + k - 1, k)")
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
