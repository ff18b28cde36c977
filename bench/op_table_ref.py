"""Reference for bench/op_table.cpp: torch on every entry of the op table (tests/ops/*.def, read by
tools/op_table.py), float32 at the table's shapes, forward and forward + backward of sum(out * w), median after
warm-up; one JSON line per case {"bench": "op_<entry>_fwd" | "op_<entry>_fwdbwd", "ref", "ref_ms"}.

Usage: python3 op_table_ref.py [--device cpu|cuda] [--filter REGEX]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import op_table  # noqa: E402

from ref_util import emit, median_ms, peer, setup, wanted  # noqa: E402

args, dev = setup("torch on the op table's entries")
label = peer()[1]
rng = np.random.default_rng(5)
for e in op_table.entries():
    name = "op_" + e.name
    if not wanted(args, name + "_fwd", name + "_fwdbwd"):
        continue
    ins = [i.make(rng, torch.float32).detach().to(dev).requires_grad_(i.kind == "f") for i in e.inputs]
    fn = e.fn()
    with torch.no_grad():
        out = fn(*ins)
    emit(name + "_fwd", label, median_ms(lambda: [fn(*[t.detach() for t in ins])], dev, 3, 21))
    wrt = [t for i, t in zip(e.inputs, ins) if i.kind == "f"]
    if not out.is_floating_point() or not wrt:
        continue
    w = torch.ones_like(out)
    try:
        emit(name + "_fwdbwd", label, median_ms(lambda: torch.autograd.grad((fn(*ins) * w).sum(), wrt, allow_unused=True), dev, 3, 21))
    except RuntimeError as err:  # torch cannot differentiate some inputs (cross_entropy's class weights)
        print(f"op_table_ref.py: {e.name}: no backward in torch ({str(err).splitlines()[0]})", file=sys.stderr)
