"""Shared by the torch fixture scripts: random leaves, and per case the forward output, a random weight w
and the gradients of sum(out * w) — the layout tests/torch_compare.h reads."""
import numpy as np
import torch


class Recorder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors = {}

    def leaf(self, name, shape, lo=-1.0, hi=1.0):
        t = torch.tensor(self.rng.uniform(lo, hi, shape), dtype=torch.float32, requires_grad=True)
        self.tensors[name] = t.detach().clone()
        return t

    def const(self, name, value):
        self.tensors[name] = value
        return value

    def record(self, name, out, inputs):
        w = torch.tensor(self.rng.standard_normal(out.shape), dtype=torch.float32)
        self.tensors[name + ".out"] = out.detach()
        self.tensors[name + ".w"] = w
        grads = torch.autograd.grad((out * w).sum(), [t for _, t in inputs])
        for (n, _), g in zip(inputs, grads):
            self.tensors[name + ".grad." + n] = g
