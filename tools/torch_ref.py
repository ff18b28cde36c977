"""Shared by the torch fixture scripts (tests/fixtures/*.py, run with PYTHONPATH=tools as
`python3 SCRIPT OUTDIR`): the output folder, seeded generators, random leaves, and per case the forward
output, a random weight w and the gradients of sum(out * w) — the layout tests/torch_compare.h reads.

Importing this module first is the scripts' check that Debian's torch and torchvision are there: without
them the script stops with one line naming itself and the missing module."""
import os
import sys

try:
    import numpy as np
    import torch
    import torchvision  # noqa: F401  (imported here so a missing package is reported by name, once)
except ImportError as e:
    sys.exit(f"{os.path.basename(sys.argv[0])}: missing Python module ({e}); "
             "needs Debian's python3-torch and python3-torchvision")

import mrc_st


def out_dir():
    """The output folder given on the command line, created if needed."""
    if len(sys.argv) != 2:
        sys.exit(f"usage: python3 {os.path.basename(sys.argv[0])} OUTDIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    return sys.argv[1]


def generator(seed, threads=None):
    """A seeded torch.Generator; `threads` pins torch's thread count where results depend on it."""
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.Generator().manual_seed(seed)


def save(name, tensors, metadata=None):
    """Writes the tensors to OUTDIR/name (safetensors, atomically)."""
    mrc_st.save(os.path.join(out_dir(), name), tensors, metadata)


class Recorder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors = {}

    def leaf(self, name, shape, lo=-1.0, hi=1.0, dtype=torch.float32):
        """Uniform values in [lo, hi), recorded under `name`, as a leaf that requires grad."""
        t = torch.tensor(self.rng.uniform(lo, hi, shape), dtype=dtype, requires_grad=True)
        self.tensors[name] = t.detach().clone()
        return t

    def const(self, name, value):
        self.tensors[name] = value
        return value

    def record(self, name, out, inputs):
        """Stores out, a random weight w of out's dtype and d(sum(out * w))/d input for (name, input) pairs."""
        dtype = out.dtype if out.is_floating_point() else torch.float32
        w = torch.tensor(self.rng.standard_normal(out.shape), dtype=dtype)
        self.tensors[name + ".out"] = out.detach()
        self.tensors[name + ".w"] = w
        grads = torch.autograd.grad((out * w).sum(), [t for _, t in inputs])
        for (n, _), g in zip(inputs, grads):
            self.tensors[name + ".grad." + n] = g

    def save(self, name, metadata=None):
        save(name, self.tensors, metadata)

    def leaf64(self, name, shape, lo=-1.0, hi=1.0):
        """A float64 leaf whose values are float32 numbers (uniform in [lo, hi)): a float32 run of the same case
        starts from exactly the same inputs, so what separates it from the reference is its own arithmetic."""
        t = torch.tensor(self.rng.uniform(lo, hi, shape).astype(np.float32), dtype=torch.float64, requires_grad=True)
        self.tensors[name] = t.detach().clone()
        return t

    def record_multilinear(self, name, fn, inputs):
        """The float64 reference of a multilinear op (conv, conv_transpose, matmul, linear: every output element a
        sum of products of one element of each input, plus a bias). `fn(*tensors)` computes it from the float64
        leaves `inputs` [(name, leaf)]. Stores what record() stores (the weight w rounded to float32 numbers, as
        the inputs are) and, for the output and each gradient "<key>", the sum of the absolute values of the
        element's terms "<key>.mag" (fn on |inputs|, backpropagating |w|) and their number "<key>.terms" (fn on
        ones): the two quantities that bound a float32 result's rounding error (tests/tolerance.h)."""
        assert "w" not in dict(inputs), f"{name}: an input named w would clash with the output weight"
        out = fn(*[t for _, t in inputs])
        assert out.dtype == torch.float64, name
        w = torch.tensor(self.rng.standard_normal(out.shape).astype(np.float32), dtype=torch.float64)
        self.tensors[name + ".out"] = out.detach()
        self.tensors[name + ".w"] = w
        grads = torch.autograd.grad((out * w).sum(), [t for _, t in inputs])
        for (n, _), g in zip(inputs, grads):
            self.tensors[name + ".grad." + n] = g
        for suffix, transform in (("mag", torch.abs), ("terms", torch.ones_like)):
            leaves = [transform(t.detach()).requires_grad_() for _, t in inputs]
            o = fn(*leaves)
            self.tensors[f"{name}.out.{suffix}"] = o.detach()
            gs = torch.autograd.grad((o * transform(w)).sum(), leaves)
            for (n, _), g in zip(inputs, gs):
                self.tensors[f"{name}.grad.{n}.{suffix}"] = g
