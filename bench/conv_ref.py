"""Reference for bench/conv.cpp: torch's conv2d on the same ResNet-50 shapes and case names.

Prints one JSON line per case, {"bench", "ref", "ref_ms"}; scripts/bench (or bench-conv --with-ref)
joins them with bench-conv's lines on "bench". CPU runs use torch.set_num_threads(2). The shapes are
ref_util.RESNET50_CONVS (bench/conv_shapes.h on the C++ side).
"""
import torch
import torch.nn.functional as F

from ref_util import RESNET50_CONVS, emit, median_ms, setup, wanted


def reps_for(first_ms):
    return int(min(max(250.0 / max(first_ms, 1e-3), 7), 51))  # as bench/conv.cpp


def main():
    args, dev = setup(__doc__.splitlines()[0])
    timing = dict(warmup=3, reps=reps_for)  # the first call sets the repetitions; two more warm up

    version = f"torch {torch.__version__}"
    fwd_sum, all_fwd = 0.0, True
    gen = torch.Generator().manual_seed(0)
    for name, cin, cout, hw, k, s, p, count in RESNET50_CONVS:
        x = torch.randn(1, cin, hw, hw, generator=gen).to(dev)
        w = (torch.randn(cout, cin, k, k, generator=gen) / (cin * k * k) ** 0.5).to(dev)
        oh = (hw + 2 * p - k) // s + 1
        g = torch.randn(1, cout, oh, oh, generator=gen).to(dev)
        fwd, fb = "conv_fwd_" + name, "conv_fwdbwd_" + name
        if wanted(args, fwd):
            with torch.no_grad():
                ms = median_ms(lambda: F.conv2d(x, w, None, s, p), dev, **timing)
            fwd_sum += count * ms
            emit(fwd, version, ms)
        else:
            all_fwd = False
        if wanted(args, fb):
            xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()

            def step():
                F.conv2d(xg, wg, None, s, p).backward(g)
                xg.grad = None
                wg.grad = None
            emit(fb, version, median_ms(step, dev, **timing))
    if all_fwd:
        emit("conv_fwd_resnet50_sum", version, fwd_sum)


if __name__ == "__main__":
    main()
