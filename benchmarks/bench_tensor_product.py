"""Tensor product: workbench.nn vs e3nn on the same irreps and weights, forward and backward.

128x0e + 128x1o + 128x2e times the spherical harmonics 0e + 1o + 2e + 3o, CPU, one thread, in
two forms: fully connected ("uvw", shared weights, output 128x0e + 128x1o + 128x2e) and MACE's
channelwise product ("uvu", one weight vector per sample from a radial MLP). Batch sizes 1
and 1024; best of several runs; ratio = e3nn time / ours (> 1 means ours is faster). The
largest difference of the outputs is printed too: the two must agree.
"""

from __future__ import annotations

import time

import pandas as pd
import torch
from e3nn import o3

from workbench.nn import ChannelwiseTensorProduct, FullyConnectedTensorProduct, TensorProduct

IRREPS = "128x0e + 128x1o + 128x2e"
SH = "0e + 1o + 2e + 3o"


def _pairs() -> dict[str, tuple[torch.nn.Module, torch.nn.Module, bool]]:
    ours_fc = FullyConnectedTensorProduct(IRREPS, SH, IRREPS)
    ref_fc = o3.FullyConnectedTensorProduct(IRREPS, SH, IRREPS)
    with torch.no_grad():
        ours_fc.weight.copy_(ref_fc.weight)
    ours_cw = ChannelwiseTensorProduct(IRREPS, SH, IRREPS)
    instructions = [(i.i_in1, i.i_in2, i.i_out, "uvu", True) for i in ours_cw.instructions]
    ref_cw = o3.TensorProduct(
        IRREPS, SH, str(ours_cw.irreps_out), instructions,
        shared_weights=False, internal_weights=False,
    )  # fmt: skip
    return {
        "fully connected (uvw)": (ours_fc, ref_fc, True),
        "channelwise (uvu, per-sample weights)": (ours_cw, ref_cw, False),
    }


def _best(fn, repeats: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for name, (ours, ref, shared) in _pairs().items():
        assert isinstance(ours, TensorProduct)
        for batch in (1, 1024):
            x = torch.randn(batch, o3.Irreps(IRREPS).dim, requires_grad=True)
            y = o3.spherical_harmonics(SH, torch.randn(batch, 3), normalize=True)
            w = None if shared else torch.randn(batch, ours.weight_numel, requires_grad=True)
            args = (x, y) if shared else (x, y, w)
            with torch.no_grad():
                diff = float((ours(*args) - ref(*args)).abs().max())
            repeats = 20 if batch == 1 else 5
            for kind in ("forward", "forward+backward"):

                def run(m, kind=kind, args=args):
                    if kind == "forward":
                        with torch.no_grad():
                            return m(*args)
                    out = m(*args)
                    out.pow(2).sum().backward()
                    return out

                t_ours = _best(lambda m=ours: run(m), repeats)
                t_ref = _best(lambda m=ref: run(m), repeats)
                rows.append(
                    {
                        "product": name,
                        "batch": batch,
                        "pass": kind,
                        "ours ms": 1e3 * t_ours,
                        "e3nn ms": 1e3 * t_ref,
                        "ratio e3nn/ours": t_ref / t_ours,
                        "max |diff|": diff,
                    }
                )
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 140, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
