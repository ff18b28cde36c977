"""The op table (tests/ops/*.def) read from Python: the torch side of every entry, for the fixture
(tests/fixtures/test_op_table.py) and the bench peer (bench/op_table_ref.py). tests/ops/op_table.h says what a
line holds; this module reads the same lines, so a new op is still one line."""
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.ops as ops

OPS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ops")
# the .def files in the order tests/ops/op_table.h includes them
FAMILIES = ["elementwise", "reduce", "views", "index", "nn", "loss", "detection"]
LINE = re.compile(r'^MRC_OP\((\w+), ([\w |]+), "([^"]*)", "([^"]*)", (.+)\)$')
INPUT = re.compile(r'^([xyzu])(?::([fci]))?\[([0-9,]*)\](?:\(([-0-9.e]+),([-0-9.e]+)\)|=\[([-0-9.e,]+)\])?$')
NAMES = "xyzu"


class Input:
    def __init__(self, spec, where):
        m = INPUT.match(spec)
        if not m:
            sys.exit(f"{where}: cannot read input \"{spec}\" (tests/ops/op_table.h gives the form)")
        self.name, self.kind = m.group(1), m.group(2) or "f"
        self.shape = tuple(int(d) for d in m.group(3).split(",") if d)
        self.lo, self.hi = (float(m.group(4)), float(m.group(5))) if m.group(4) else (-1.0, 1.0)
        self.values = [float(v) for v in m.group(6).split(",")] if m.group(6) else None
        if self.kind == "i" and m.group(4) is None and self.values is None:
            sys.exit(f"{where}: int input \"{spec}\" needs (lo,hi) or =[values]")

    def make(self, rng, dtype):
        """A tensor of this input: floats as float32 numbers in `dtype`, ints int64; Float inputs require grad."""
        if self.values is not None:
            a = np.array(self.values).reshape(self.shape)
        elif self.kind == "i":
            a = rng.integers(int(self.lo), int(self.hi), self.shape)
        else:
            a = rng.uniform(self.lo, self.hi, self.shape)
        if self.kind == "i":
            return torch.tensor(a, dtype=torch.int64)
        t = torch.tensor(np.asarray(a).astype(np.float32), dtype=dtype)
        return t.requires_grad_() if self.kind == "f" else t


class Entry:
    def __init__(self, family, name, flags, inputs, expr):
        self.family, self.name, self.expr = family, name, expr
        self.multilinear = "kMultilinear" in flags
        where = f"tests/ops/{family}.def: {name}"
        self.inputs = [Input(s, where) for s in inputs.split()]
        if [i.name for i in self.inputs] != list(NAMES[:len(self.inputs)]):
            sys.exit(f"{where}: inputs must be named x, y, z, u in this order")

    def fn(self):
        """f(*tensors) evaluating the torch expression."""
        code = compile(self.expr, f"<{self.name}>", "eval")
        names = [i.name for i in self.inputs]
        return lambda *ts: eval(code, {"torch": torch, "F": F, "ops": ops}, dict(zip(names, ts)))


def entries():
    """Every entry of every .def file, in table order."""
    out = []
    for family in FAMILIES:
        path = os.path.join(OPS_DIR, family + ".def")
        for line in open(path):
            line = line.strip()
            if not line.startswith("MRC_OP"):
                continue
            m = LINE.match(line)
            if not m:
                sys.exit(f"tests/ops/{family}.def: cannot read this line (one MRC_OP per line): {line}")
            out.append(Entry(family, m.group(1), m.group(2), m.group(3), m.group(4)))
    found = {f[:-4] for f in os.listdir(OPS_DIR) if f.endswith(".def")}
    if found != set(FAMILIES):
        sys.exit(f"tools/op_table.py: tests/ops holds {sorted(found)}, FAMILIES lists {FAMILIES}: keep them in step "
                 "(and tests/ops/op_table.h)")
    return out
