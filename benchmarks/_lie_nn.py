"""lie-nn (Batatia et al., arXiv 2306.00091) as the reference side of the Clebsch-Gordan benchmark.

lie-nn is a benchmark-only dependency (``pip install lie-nn sympy``: lie-nn 0.0.0 imports sympy
without declaring it). It may live in another virtualenv than ours: every measurement runs in a
fresh child process started with ``python`` (default: ``$WORKBENCH_LIE_NN_PYTHON``, else this
interpreter), so the time is *cold*. lie-nn caches nothing, so cold is also what every call costs.

Labels, as lie-nn spells them:

- ``"SO3"``: ``l`` (int), real basis, dimension ``2l + 1``.
- ``"SO13"``: ``(l, k)``, the doubled spins of SL(2, C) with ``l + k`` even, dimension
  ``(l + 1)(k + 1)``; the 4-vector is ``(1, 1)`` (lie-nn finds exactly one intertwiner between
  ``SO13.four_vector()`` and ``SO13(1, 1)``), ``(2, 2)`` is the 9-dim traceless symmetric tensor.
- ``"SU3"``: the highest weight as a partition ``(λ1, λ2, 0)`` (first row of the Gelfand-Tsetlin
  patterns): 3 = ``(1, 0, 0)``, 3̄ = ``(1, 1, 0)``, 8 = ``(2, 1, 0)``, 27 = ``(4, 2, 0)``.
  Dynkin labels ``[p, q]`` are ``(p + q, q, 0)``, see :func:`su3_partition`.

``lie_nn.clebsch_gordan(ir1, ir2, ir3)`` returns an array of shape ``(n_paths, d1, d2, d3)``: for
each path ``C[p]`` read as a ``(d1 d2, d3)`` matrix, ``C[p].T`` is an intertwiner
``V1 ⊗ V2 -> V3``, ``X3 C.T = C.T (X1 ⊗ 1 + 1 ⊗ X2)`` for every Lie-algebra generator ``X``
(lie-nn's own ``check_representation_triplet``); it is not an invariant tensor of
``V1 ⊗ V2 ⊗ V3``. Each path has Frobenius norm ``sqrt(d3)``.

Known lie-nn 0.0.0 problems (reported by :func:`measure_clebsch_gordan_cold`, not hidden):

- ``"tabulated"`` SU3 coefficients are wrong whenever a weight of ``ir3`` is degenerate
  (3 x 3̄ -> 8, 8 x 8 -> 8, 8 x 8 -> 27): ``intertwiner_error`` is O(1).
- ``"tabulated"`` SO13 ``(2, 2) x (2, 2) -> (4, 4)`` raises an ``AssertionError`` inside lie-nn
  (rounding to sqrt-rationals breaks the solution); ``method="generic"`` solves it.
- symmetric powers of representations with complex Clebsch-Gordan coefficients (SO13 with a
  ``(1, 1)`` factor) have the wrong dimension, see :func:`symmetric_power_dim`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from math import comb
from types import ModuleType
from typing import Any, Literal

INSTALL_HINT = "pip install lie-nn sympy (benchmark-only dependency)"
PYTHON_ENV = "WORKBENCH_LIE_NN_PYTHON"

Group = Literal["SO3", "SO13", "SU3"]
Label = int | tuple[int, ...]
Method = Literal["tabulated", "generic"]

_MISSING = "LIE_NN_MISSING"


@dataclass(frozen=True)
class ColdCG:
    """One cold Clebsch-Gordan computation by lie-nn, measured in a fresh process.

    Attributes:
        seconds: wall clock of the ``clebsch_gordan`` call alone (imports and irrep
            construction excluded); on failure, the time until lie-nn raised.
        shape: ``(n_paths, d1, d2, d3)``, or ``None`` on failure.
        dtype: numpy dtype of the result (``float64``, ``complex128`` for generic SU3).
        intertwiner_error: largest absolute residual of lie-nn's own intertwiner equation;
            ~1e-15 for a correct result, O(1) for a wrong one.
        import_seconds: wall clock of ``import lie_nn`` in the child (for the record).
        error: ``"ExceptionType: message"`` raised by lie-nn, ``None`` on success.
    """

    seconds: float
    shape: tuple[int, ...] | None
    dtype: str | None
    intertwiner_error: float | None
    import_seconds: float
    error: str | None = None


@dataclass(frozen=True)
class SymmetricPower:
    """lie-nn's reduction of ``Sym^k`` of one irrep (``reduced_symmetric_tensor_product_basis``).

    Attributes:
        dim: dimension lie-nn returns (``RepArray.rep.dim``).
        expected: ``C(d + k - 1, k)``, the true dimension of ``Sym^k`` of a ``d``-dim space.
        irreps: ``(multiplicity, label)`` of lie-nn's decomposition.
        symmetric: whether lie-nn's basis array is symmetric under swapping its first two axes.
        seconds: wall clock of the call.
        error: ``"ExceptionType: message"`` raised by lie-nn, ``None`` on success.
    """

    dim: int | None
    expected: int
    irreps: tuple[tuple[int, Label], ...]
    symmetric: bool | None
    seconds: float
    error: str | None = None


def require_lie_nn() -> ModuleType:
    """Import lie-nn in this process, or raise an ``ImportError`` that says how to install it."""
    try:
        import lie_nn
    except ImportError as exc:  # lie_nn itself, or its undeclared sympy
        raise ImportError(INSTALL_HINT) from exc
    return lie_nn


def su3_partition(p: int, q: int) -> tuple[int, int, int]:
    """lie-nn's SU(3) label of the irrep with Dynkin labels ``[p, q]``: ``(p + q, q, 0)``."""
    if p < 0 or q < 0:
        raise ValueError(f"Dynkin labels must be >= 0, got [{p}, {q}]")
    return (p + q, q, 0)


def irrep_dim(group: Group, label: Label) -> int:
    """Dimension of an irrep from its lie-nn label, without importing lie-nn."""
    label = _check_label(group, label)
    if group == "SO3":
        return 2 * label + 1
    if group == "SO13":
        l, k = label
        return (l + 1) * (k + 1)
    a, b, _ = label  # Weyl: (a - b + 1)(b + 1)(a + 2) / 2
    return (a - b + 1) * (b + 1) * (a + 2) // 2


def expected_symmetric_power_dim(d: int, k: int) -> int:
    """True dimension of ``Sym^k`` of a ``d``-dimensional space: ``C(d + k - 1, k)``."""
    return comb(d + k - 1, k)


def make_irrep(group: Group, label: Label) -> Any:
    """Build lie-nn's irrep, e.g. ``make_irrep("SO13", (1, 1))`` is the 4-vector (in-process)."""
    label = _check_label(group, label)
    irreps = require_lie_nn().irreps
    if group == "SO3":
        return irreps.SO3(l=label)
    if group == "SO13":
        return irreps.SO13(l=label[0], k=label[1])
    return irreps.SU3(S=label)


def clebsch_gordan(
    group: Group, label1: Label, label2: Label, label3: Label, *, method: Method = "tabulated"
) -> Any:
    """lie-nn's Clebsch-Gordan array ``(n_paths, d1, d2, d3)`` for one triple, in this process.

    ``method="tabulated"`` is the call a lie-nn user makes,
    ``lie_nn.clebsch_gordan(ir1, ir2, ir3)``. ``method="generic"`` is
    ``lie_nn.clebsch_gordan(lie_nn.GenericRep.from_rep(ir1), ir2, ir3)``: lie-nn's null-space
    solver on the generators, without rounding (slower, but correct where "tabulated" is not).
    """
    lie = require_lie_nn()
    ir1, ir2, ir3 = (make_irrep(group, x) for x in (label1, label2, label3))
    if method == "tabulated":
        return lie.clebsch_gordan(ir1, ir2, ir3)
    if method == "generic":
        return lie.clebsch_gordan(lie.GenericRep.from_rep(ir1), ir2, ir3)
    raise ValueError(f"method must be 'tabulated' or 'generic', got {method!r}")


def measure_clebsch_gordan_cold(
    group: Group,
    label1: Label,
    label2: Label,
    label3: Label,
    *,
    method: Method = "tabulated",
    python: str | None = None,
    threads: int = 1,
    timeout: float = 600.0,
) -> ColdCG:
    """Time lie-nn's Clebsch-Gordan computation for one triple in a fresh process.

    Args:
        group, label1, label2, label3: the triple, in lie-nn's labels (see the module docstring).
        method: ``"tabulated"`` or ``"generic"``, see :func:`clebsch_gordan`.
        python: interpreter that has lie-nn (default ``$WORKBENCH_LIE_NN_PYTHON``, else this one).
        threads: BLAS/OpenMP threads of the child (1 to compare with single-threaded code).
        timeout: seconds before the child is killed (``subprocess.TimeoutExpired``).

    Raises:
        ImportError: lie-nn (or sympy) is missing from ``python``.
    """
    for label in (label1, label2, label3):
        _check_label(group, label)
    if method not in ("tabulated", "generic"):
        raise ValueError(f"method must be 'tabulated' or 'generic', got {method!r}")
    task = {"task": "cg", "group": group, "labels": [label1, label2, label3], "method": method}
    out = _run_child(task, python=python, threads=threads, timeout=timeout)
    return ColdCG(
        seconds=out["seconds"],
        shape=None if out["shape"] is None else tuple(out["shape"]),
        dtype=out["dtype"],
        intertwiner_error=out["intertwiner_error"],
        import_seconds=out["import_seconds"],
        error=out["error"],
    )


def time_clebsch_gordan_cold(
    group: Group, label1: Label, label2: Label, label3: Label, **kwargs: Any
) -> tuple[float, tuple[int, ...]]:
    """``(seconds, shape)`` of one cold lie-nn Clebsch-Gordan call, e.g.
    ``time_clebsch_gordan_cold("SO3", 4, 4, 4)``; keywords as in
    :func:`measure_clebsch_gordan_cold`.

    Raises:
        RuntimeError: lie-nn raised (the message says which exception and after how long).
    """
    result = measure_clebsch_gordan_cold(group, label1, label2, label3, **kwargs)
    if result.error is not None or result.shape is None:
        raise RuntimeError(
            f"lie-nn {group} {label1} x {label2} -> {label3} failed after "
            f"{result.seconds:.2f} s: {result.error}"
        )
    return result.seconds, result.shape


def symmetric_power(
    group: Group,
    label: Label,
    k: int,
    *,
    python: str | None = None,
    threads: int = 1,
    timeout: float = 600.0,
) -> SymmetricPower:
    """lie-nn's ``reduced_symmetric_tensor_product_basis(irrep, k)``, in a fresh process."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    expected = expected_symmetric_power_dim(irrep_dim(group, label), k)
    task = {"task": "sym", "group": group, "labels": [label], "k": k}
    out = _run_child(task, python=python, threads=threads, timeout=timeout)
    irreps = tuple((mul, _from_json(lab)) for mul, lab in out["irreps"])
    return SymmetricPower(
        dim=out["dim"],
        expected=expected,
        irreps=irreps,
        symmetric=out["symmetric"],
        seconds=out["seconds"],
        error=out["error"],
    )


def symmetric_power_dim(group: Group, label: Label, k: int, **kwargs: Any) -> int:
    """Dimension of ``Sym^k`` of an irrep as lie-nn computes it (compare with
    :func:`expected_symmetric_power_dim`); keywords as in :func:`symmetric_power`.

    Raises:
        RuntimeError: lie-nn raised.
    """
    result = symmetric_power(group, label, k, **kwargs)
    if result.error is not None or result.dim is None:
        raise RuntimeError(f"lie-nn Sym^{k} of {group} {label} failed: {result.error}")
    return result.dim


# -- helpers -------------------------------------------------------------------------------------


def _check_label(group: str, label: Any) -> Any:
    """Validate ``label`` for ``group`` and return it normalised (tuples, not lists)."""
    if group == "SO3":
        if not isinstance(label, int) or label < 0:
            raise ValueError(f"SO3 label is l >= 0, got {label!r}")
        return label
    label = tuple(label) if isinstance(label, list | tuple) else label
    if group == "SO13":
        ok = isinstance(label, tuple) and len(label) == 2 and all(isinstance(x, int) for x in label)
        if not ok or min(label) < 0 or sum(label) % 2:
            raise ValueError(f"SO13 label is (l, k), doubled spins >= 0, l + k even: {label!r}")
        return label
    if group == "SU3":
        ok = isinstance(label, tuple) and len(label) == 3 and all(isinstance(x, int) for x in label)
        if not ok or not label[0] >= label[1] >= label[2] == 0:
            raise ValueError(f"SU3 label is a partition (a, b, 0) with a >= b >= 0: {label!r}")
        return label
    raise ValueError(f"group must be 'SO3', 'SO13' or 'SU3', got {group!r}")


def _from_json(label: Any) -> Label:
    return tuple(label) if isinstance(label, list) else label


def _run_child(task: dict, *, python: str | None, threads: int, timeout: float) -> dict:
    """Run :func:`_child` on ``task`` in a fresh interpreter; return its JSON answer."""
    python = python or os.environ.get(PYTHON_ENV) or sys.executable
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    proc = subprocess.run(
        [python, os.path.abspath(__file__), json.dumps(task)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if lines and lines[-1] == _MISSING:
        raise ImportError(f"{INSTALL_HINT}; not importable by {python}")
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"lie-nn child process failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(lines[-1])


def _child(task: dict, import_seconds: float) -> dict:
    """Body of the child process: run one task, time only the lie-nn call."""
    import lie_nn as lie
    import numpy as np

    group, labels = task["group"], [_from_json(x) for x in task["labels"]]
    irs = [make_irrep(group, x) for x in labels]
    out: dict[str, Any] = {"import_seconds": import_seconds, "error": None}

    if task["task"] == "cg":
        out.update(shape=None, dtype=None, intertwiner_error=None)
        ir1, ir2, ir3 = irs
        first = ir1 if task["method"] == "tabulated" else lie.GenericRep.from_rep(ir1)
        start = time.perf_counter()
        try:
            cg = lie.clebsch_gordan(first, ir2, ir3)
        except Exception as exc:
            out["seconds"] = time.perf_counter() - start
            out["error"] = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            return out
        out["seconds"] = time.perf_counter() - start
        x1, x2, x3 = ir1.X, ir2.X, ir3.X  # lie-nn's check_representation_triplet equation
        left = np.einsum("zijk,dlk->zdijl", cg, x3)
        right = np.einsum("dil,zijk->zdljk", x1, cg) + np.einsum("djl,zijk->zdilk", x2, cg)
        residual = float(np.abs(left - right).max()) if cg.size else 0.0
        out.update(shape=list(cg.shape), dtype=str(cg.dtype), intertwiner_error=residual)
        return out

    out.update(dim=None, irreps=[], symmetric=None)
    start = time.perf_counter()
    try:
        result = lie.reduced_symmetric_tensor_product_basis(irs[0], task["k"])
    except Exception as exc:
        out["seconds"] = time.perf_counter() - start
        out["error"] = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
        return out
    out["seconds"] = time.perf_counter() - start
    basis = result.array
    symmetric = task["k"] < 2 or bool(np.allclose(basis, np.swapaxes(basis, 0, 1), atol=1e-8))
    out.update(
        dim=int(result.rep.dim),
        irreps=[[m.mul, _label_of(m.rep)] for m in result.rep.irreps],
        symmetric=symmetric,
    )
    return out


def _label_of(irrep: Any) -> Any:
    """lie-nn irrep -> our label (lie-nn returns SU3 products as its parent class SUN)."""
    if hasattr(irrep, "S"):
        return list(irrep.S)
    if hasattr(irrep, "k"):
        return [irrep.l, irrep.k]
    return irrep.l


if __name__ == "__main__":  # child process of _run_child
    _start = time.perf_counter()
    try:
        import lie_nn  # noqa: F401
    except ImportError:
        print(_MISSING)
        sys.exit(0)
    print(json.dumps(_child(json.loads(sys.argv[1]), time.perf_counter() - _start)))
