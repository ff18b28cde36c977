"""Reference for bench/core_cuda.cpp: PyTorch on the same GPU, same shapes, same case names.

Prints one JSON line per case, {"bench", "device", "ref", "ref_ms", "gflops"|"gbps"}; scripts/bench and
scripts/gpu-check join them with bench-core_cuda's lines on "bench" (ratio = ours / ref). Timing as
there: CUDA events around each call, median of 20 after 3 warm-up calls. The "_fp32" cases turn TF32
off for both cuBLAS and cuDNN (torch enables it for cuDNN by default), the "_tf32" cases turn it on;
cudnn.benchmark stays at torch's default (off: heuristic algorithm choice, like ours).
The shapes are ref_util.RESNET50_CONVS (bench/conv_shapes.h on the C++ side).

  python3 bench/core_cuda_ref.py [--device cuda] [--filter REGEX]
"""
import argparse
import json
import re

import torch
import torch.nn.functional as F

from ref_util import RESNET50_CONVS

SHAPES = [c[:7] for c in RESNET50_CONVS]  # name, cin, cout, hw, k, stride, pad (bench/conv_shapes.h)
GEMMS = [(1, 1024, 1024, 1024), (1, 2048, 2048, 2048), (1, 4096, 4096, 4096), (1, 8192, 8192, 8192),
         (16, 512, 512, 512), (1, 32 * 49, 1000, 2048)]
BATCH = 32


def time_cuda(f, warmup=3, reps=20):
    for _ in range(warmup):
        f()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        a.record()
        f()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--filter", default="")
    args, _ = ap.parse_known_args()  # scripts/bench may pass --profile, which has no stages here
    if args.device != "cuda" or not torch.cuda.is_available():
        return
    rx = re.compile(args.filter) if args.filter else None
    sel = lambda name: rx is None or rx.search(name) is not None
    ref = f"torch {torch.__version__}"
    dev = torch.device("cuda")

    def emit(name, ms, key, rate):
        print(json.dumps({"bench": name, "device": "cuda", "ref": ref, "ref_ms": round(ms, 4), key: round(rate, 1)}),
              flush=True)

    n = 1 << 28
    src = torch.rand(n, device=dev)
    if sel("cuda_copy_d2d_1GiB"):
        dst = torch.empty_like(src)
        ms = time_cuda(lambda: dst.copy_(src))
        emit("cuda_copy_d2d_1GiB", ms, "gbps", 2.0 * n * 4 / (ms * 1e6))
    if sel("cuda_add_256M"):
        ms = time_cuda(lambda: torch.add(src, src))
        emit("cuda_add_256M", ms, "gbps", 3.0 * n * 4 / (ms * 1e6))
    if sel("cuda_sum_256M"):
        ms = time_cuda(lambda: src.sum())
        emit("cuda_sum_256M", ms, "gbps", n * 4 / (ms * 1e6))
    del src

    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        mode = "_tf32" if tf32 else "_fp32"
        for b, m, nn, k in GEMMS:
            name = "cuda_gemm_" + (f"{b}x" if b > 1 else "") + f"{m}x{nn}x{k}" + mode
            if not sel(name):
                continue
            x = torch.randn(b, m, k, device=dev)
            y = torch.randn(b, k, nn, device=dev)
            ms = time_cuda(lambda: torch.matmul(x, y))
            emit(name, ms, "gflops", 2.0 * b * m * nn * k / (ms * 1e6))
        for cname, cin, cout, hw, k, s, p in SHAPES:
            fwd = f"cuda_conv_fwd_{cname}_b32{mode}"
            fb = f"cuda_conv_fwdbwd_{cname}_b32{mode}"
            if not (sel(fwd) or sel(fb)):
                continue
            x = torch.randn(BATCH, cin, hw, hw, device=dev)
            w = torch.randn(cout, cin, k, k, device=dev) / (cin * k * k) ** 0.5
            oh = (hw + 2 * p - k) // s + 1
            flops = 2.0 * BATCH * cout * oh * oh * cin * k * k
            if sel(fwd):
                with torch.no_grad():
                    ms = time_cuda(lambda: F.conv2d(x, w, stride=s, padding=p))
                emit(fwd, ms, "gflops", flops / (ms * 1e6))
            if sel(fb):
                xg = x.clone().requires_grad_(True)
                wg = w.clone().requires_grad_(True)
                g = torch.randn(BATCH, cout, oh, oh, device=dev)

                def step():
                    xg.grad = None
                    wg.grad = None
                    F.conv2d(xg, wg, stride=s, padding=p).backward(g)

                ms = time_cuda(step)
                emit(fb, ms, "gflops", 3.0 * flops / (ms * 1e6))


if __name__ == "__main__":
    main()
