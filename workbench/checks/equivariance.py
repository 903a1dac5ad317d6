"""Numerical equivariance check of any callable: f(D_in(g) x) = D_out(g) f(x).

Reference: the same test as e3nn's ``assert_equivariant`` (arXiv 2207.09453, section 4), but
returning one row per sampled group element instead of a single assertion, so the errors can
be tabulated and plotted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from .actions import O3, GroupAction, as_action

__all__ = ["EquivarianceTest", "default_tolerance", "equivariance_report", "summarize"]

log = logging.getLogger(__name__)

_TOLERANCES = {
    torch.float64: 1e-10,
    torch.complex128: 1e-10,
    torch.float32: 1e-5,
    torch.complex64: 1e-5,
    torch.float16: 1e-2,
    torch.bfloat16: 1e-2,
}


def default_tolerance(dtype: torch.dtype) -> float:
    """Relative tolerance for a check in ``dtype``.

    Round-off of an equivariant network is ~1e-15 relative in float64 and ~1e-7 in float32;
    the tolerances leave a wide margin above that and far below any real symmetry breaking.
    """
    try:
        return _TOLERANCES[dtype]
    except KeyError:
        raise ValueError(
            f"no default tolerance for dtype {dtype}; use a floating dtype "
            f"({', '.join(str(d) for d in _TOLERANCES)}) or pass tolerance="
        ) from None


class EquivarianceTest:
    r"""A function, its input/output irreps and fixed inputs, ready to be transformed.

    For a group element g, :meth:`sides` returns the two sides of the equivariance equation

    .. math:: f(D_\mathrm{in}(g)\, x) \quad\text{and}\quad D_\mathrm{out}(g)\, f(x),

    which agree for every g exactly when f is equivariant. :func:`equivariance_report` samples
    many g; a widget evaluates the g a person chooses. Arguments are those of
    :func:`equivariance_report`.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        irreps_in: Any,
        irreps_out: Any,
        *,
        group: GroupAction = O3,
        inputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
        batch_size: int = 4,
        dtype: torch.dtype | None = None,
        seed: int = 0,
    ) -> None:
        self.group = group = as_action(group)
        self.reps_in = [group.parse(r) for r in _as_list(irreps_in)]
        self.reps_out = [group.parse(r) for r in _as_list(irreps_out)]
        self.fn, self.dtype = _cast(fn, dtype)
        self.generator = torch.Generator().manual_seed(seed)
        self.inputs = _inputs(inputs, self.reps_in, group, batch_size, self.dtype, self.generator)
        with torch.no_grad():
            self.outputs = self._call(self.inputs, "f(x)")

    def transform_inputs(self, g: Any) -> list[torch.Tensor]:
        """D_in(g) x for each input."""
        return _act(self.group, self.reps_in, self.inputs, g, self.dtype)

    def sides(self, g: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(f(D_in(g) x), D_out(g) f(x)), one tensor per output."""
        with torch.no_grad():
            lhs = self._call(self.transform_inputs(g), "f(g x)")
        return lhs, _act(self.group, self.reps_out, self.outputs, g, self.dtype)

    def row(self, g: Any, tolerance: float, sides: tuple | None = None) -> dict[str, Any]:
        """One report row for element g: its description, errors and pass flag.

        ``sides`` may pass in the result of :meth:`sides` for g if the caller has it.
        """
        lhs, rhs = self.sides(g) if sides is None else sides
        abs_error = max(float((a - b).abs().max()) for a, b in zip(lhs, rhs, strict=True))
        scale = max(float(b.abs().max()) for b in rhs)
        rel_error = abs_error / max(scale, torch.finfo(self.dtype).tiny)
        return {
            **self.group.describe(g),
            "abs_error": abs_error,
            "rel_error": rel_error,
            "tolerance": tolerance,
            "passed": rel_error <= tolerance,
        }

    def report(
        self, n_samples: int = 8, tolerance: float | None = None, progress: bool = False
    ) -> pd.DataFrame:
        """Rows for ``n_samples`` random elements; see :func:`equivariance_report`."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        tolerance = default_tolerance(self.dtype) if tolerance is None else float(tolerance)
        elements = self.group.sample(n_samples, self.generator)
        rows = [
            {"sample": i, **self.row(g, tolerance)}
            for i, g in enumerate(tqdm(elements, desc="equivariance", disable=not progress))
        ]
        report = pd.DataFrame(rows)
        report.attrs.update(
            group=self.group.name,
            irreps_in=" ; ".join(str(r) for r in self.reps_in),
            irreps_out=" ; ".join(str(r) for r in self.reps_out),
            dtype=str(self.dtype).removeprefix("torch."),
        )
        log.debug("equivariance report:\n%s", report)
        return report

    def _call(self, xs: list[torch.Tensor], what: str) -> list[torch.Tensor]:
        return _outputs(self.fn(*xs), self.reps_out, self.group, xs[0].shape[:-1], what)


def equivariance_report(
    fn: Callable[..., Any],
    irreps_in: Any,
    irreps_out: Any,
    *,
    group: GroupAction = O3,
    n_samples: int = 8,
    inputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
    batch_size: int = 4,
    dtype: torch.dtype | None = None,
    tolerance: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    r"""Check that ``fn`` is equivariant, one row per random group element.

    For each sampled element g, compares

    .. math:: \mathrm{lhs} = f(D_\mathrm{in}(g)\, x), \qquad \mathrm{rhs} = D_\mathrm{out}(g)\, f(x)

    and reports ``abs_error = max |lhs - rhs|`` and
    ``rel_error = abs_error / max |rhs|``; a row passes when ``rel_error <= tolerance``.
    An invariant function is the special case ``irreps_out = "0e"`` (or ``"Nx0e"``).

    Args:
        fn: a torch module (e3nn or not) or any callable taking one tensor of shape
            ``(batch, irreps_in.dim)`` per input and returning one tensor (or a tuple, one per
            entry of ``irreps_out``) of shape ``(batch, irreps_out.dim)``.
        irreps_in: irreps of the input, e.g. ``"4x0e + 2x1o"``, or a list of them for a
            function of several inputs (such as a tensor product).
        irreps_out: irreps of the output, or a list of them for several outputs.
        group: the group acting: ``workbench.checks.O3`` (default, e3nn irreps strings),
            ``SO3``, any ``workbench.groups.Group`` (irreps in its notation; Lorentz boosts
            included) or a ``LieGroupAction(group, max_rapidity=...)``.
        n_samples: number of random group elements.
        inputs: inputs to use instead of random normal ones (one tensor per input).
        batch_size: batch size of the random inputs.
        dtype: dtype of the check. Defaults to the dtype of ``fn``'s parameters (modules) or
            torch's default dtype; a module whose parameters have another dtype is an error.
        tolerance: relative tolerance; defaults to :func:`default_tolerance` of ``dtype``.
        seed: seed of the random inputs and group elements.
        progress: show a tqdm progress bar.

    Returns:
        DataFrame with columns ``sample``, the element description (``alpha``, ``beta``,
        ``gamma``, ``inversion`` for O(3)), ``abs_error``, ``rel_error``, ``tolerance`` and
        ``passed``; ``report.attrs`` records the group, irreps and dtype.

    Raises:
        ValueError: invalid irreps, inputs or outputs of the wrong shape, or non-finite
            outputs.

    >>> from e3nn import o3
    >>> report = equivariance_report(o3.Linear("2x1o", "1x1o"), "2x1o", "1x1o")
    >>> bool(report["passed"].all())
    True
    """
    test = EquivarianceTest(
        fn,
        irreps_in,
        irreps_out,
        group=group,
        inputs=inputs,
        batch_size=batch_size,
        dtype=dtype,
        seed=seed,
    )
    return test.report(n_samples, tolerance, progress)


def summarize(report: pd.DataFrame) -> str:
    """One line: PASS/FAIL, worst relative error and tolerance, e.g. for a badge."""
    worst = float(report["rel_error"].max())
    verdict = "PASS" if bool(report["passed"].all()) else "FAIL"
    failed = int((~report["passed"]).sum())
    return (
        f"{verdict}: max relative error {worst:.1e} (tolerance {report['tolerance'].iloc[0]:.0e}, "
        f"{failed}/{len(report)} samples failed, {report.attrs.get('dtype', '?')})"
    )


def _as_list(irreps: Any) -> list[Any]:
    """A list/tuple of irreps specs as a list; one spec (a str, or an object with a ``dim``
    such as ``e3nn.o3.Irreps``, itself a tuple) as ``[spec]``."""
    if isinstance(irreps, (list, tuple)) and irreps and not hasattr(irreps, "dim"):
        return list(irreps)
    return [irreps]


def _act(
    group: GroupAction, reps: list[Any], xs: list[torch.Tensor], g: Any, dtype: torch.dtype
) -> list[torch.Tensor]:
    """D(g) x for each (irreps, tensor) pair, acting on the last axis (a real output of a
    complex representation, such as real invariants, is promoted to complex)."""
    out = []
    for x, r in zip(xs, reps, strict=True):
        D = group.matrix(r, g, dtype)
        out.append((x.to(D.dtype) if D.is_complex() and not x.is_complex() else x) @ D.T)
    return out


def _cast(fn: Callable[..., Any], dtype: torch.dtype | None) -> tuple[Callable, torch.dtype]:
    """The callable to check and the dtype of the check (see ``equivariance_report``)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable (a torch module or a function), got {type(fn)}")
    params = (
        [p for p in fn.parameters() if p.is_floating_point()]
        if isinstance(fn, torch.nn.Module)
        else []
    )
    if dtype is None:
        dtype = params[0].dtype if params else torch.get_default_dtype()
    if not (dtype.is_floating_point or dtype.is_complex):
        raise ValueError(f"dtype must be a floating (or complex) dtype, got {dtype}")
    real = dtype.to_real() if dtype.is_complex else dtype  # real weights act on complex reps
    if params and any(p.dtype != real for p in params):
        raise ValueError(
            f"fn's parameters are {params[0].dtype} but the check was asked in {dtype}: build "
            f"the module in {dtype} (torch.set_default_dtype({dtype}) before constructing it, "
            f"so that constants such as e3nn's Clebsch-Gordan buffers are exact too) or leave "
            f"dtype=None to check in the module's own dtype"
        )
    return fn, dtype


def _inputs(
    inputs: torch.Tensor | Sequence[torch.Tensor] | None,
    reps_in: list[Any],
    group: GroupAction,
    batch_size: int,
    dtype: torch.dtype,
    generator: torch.Generator,
) -> list[torch.Tensor]:
    if inputs is None:
        return [
            torch.randn(batch_size, group.dim(r), generator=generator, dtype=dtype) for r in reps_in
        ]
    xs = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    if len(xs) != len(reps_in):
        raise ValueError(f"got {len(xs)} input tensors for {len(reps_in)} input irreps")
    for x, r in zip(xs, reps_in, strict=True):
        if x.ndim < 1 or x.shape[-1] != group.dim(r):
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not match irreps_in {r} "
                f"(expected (..., {group.dim(r)}))"
            )
    return [x.to(dtype) for x in xs]


def _outputs(
    out: Any, reps_out: list[Any], group: GroupAction, batch_shape: torch.Size, what: str
) -> list[torch.Tensor]:
    """Validate fn's output against irreps_out: count, shape and finiteness."""
    ys = list(out) if isinstance(out, (tuple, list)) else [out]
    if len(ys) != len(reps_out):
        raise ValueError(f"{what} returned {len(ys)} outputs but irreps_out lists {len(reps_out)}")
    for y, r in zip(ys, reps_out, strict=True):
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"{what} must return torch tensors, got {type(y).__name__}")
        expected = (*batch_shape, group.dim(r))
        if tuple(y.shape) != expected:
            raise ValueError(
                f"{what} has shape {tuple(y.shape)} but irreps_out {r} with the input's batch "
                f"shape means {expected}: does fn's output match irreps_out?"
            )
        if not torch.isfinite(y).all():
            bad = int((~torch.isfinite(y)).sum())
            raise ValueError(
                f"{what} contains {bad} non-finite values (NaN or inf); the check needs finite "
                f"outputs: look for a division by zero, log of a negative or an overflow in fn"
            )
    return ys
