"""Reference for bench/conv.cpp: torch's conv2d on the same ResNet-50 shapes and case names.

Prints one JSON line per case, {"bench", "ref", "ref_ms"}; scripts/bench (or bench-conv --with-ref)
joins them with bench-conv's lines on "bench". CPU runs use torch.set_num_threads(2). Keep SHAPES in
sync with bench/conv_shapes.h.
"""
import argparse
import json
import re
import time

import torch
import torch.nn.functional as F

# name, cin, cout, hw, k, stride, pad, occurrences in ResNet-50
SHAPES = [
    ("stem_7x7s2", 3, 64, 224, 7, 2, 3, 1),
    ("l1_1x1_64to64", 64, 64, 56, 1, 1, 0, 1),
    ("l1_3x3_64", 64, 64, 56, 3, 1, 1, 3),
    ("l1_1x1_64to256", 64, 256, 56, 1, 1, 0, 4),
    ("l1_1x1_256to64", 256, 64, 56, 1, 1, 0, 2),
    ("l2_1x1_256to128", 256, 128, 56, 1, 1, 0, 1),
    ("l2_3x3s2_128", 128, 128, 56, 3, 2, 1, 1),
    ("l2_1x1_128to512", 128, 512, 28, 1, 1, 0, 4),
    ("l2_down_1x1s2", 256, 512, 56, 1, 2, 0, 1),
    ("l2_1x1_512to128", 512, 128, 28, 1, 1, 0, 3),
    ("l2_3x3_128", 128, 128, 28, 3, 1, 1, 3),
    ("l3_1x1_512to256", 512, 256, 28, 1, 1, 0, 1),
    ("l3_3x3s2_256", 256, 256, 28, 3, 2, 1, 1),
    ("l3_1x1_256to1024", 256, 1024, 14, 1, 1, 0, 6),
    ("l3_down_1x1s2", 512, 1024, 28, 1, 2, 0, 1),
    ("l3_1x1_1024to256", 1024, 256, 14, 1, 1, 0, 5),
    ("l3_3x3_256", 256, 256, 14, 3, 1, 1, 5),
    ("l4_1x1_1024to512", 1024, 512, 14, 1, 1, 0, 1),
    ("l4_3x3s2_512", 512, 512, 14, 3, 2, 1, 1),
    ("l4_1x1_512to2048", 512, 2048, 7, 1, 1, 0, 3),
    ("l4_down_1x1s2", 1024, 2048, 14, 1, 2, 0, 1),
    ("l4_1x1_2048to512", 2048, 512, 7, 1, 1, 0, 2),
    ("l4_3x3_512", 512, 512, 7, 3, 1, 1, 2),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(2)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def median_ms(f, warmup=2):
        f()
        sync()
        t = time.perf_counter()
        f()
        sync()
        first = (time.perf_counter() - t) * 1e3
        reps = int(min(max(250.0 / max(first, 1e-3), 7), 51))  # as bench/conv.cpp
        for _ in range(warmup):
            f()
        times = []
        for _ in range(reps):
            sync()
            t = time.perf_counter()
            f()
            sync()
            times.append((time.perf_counter() - t) * 1e3)
        return sorted(times)[len(times) // 2]

    version = f"torch {torch.__version__}"
    fwd_sum, all_fwd = 0.0, True
    gen = torch.Generator().manual_seed(0)
    for name, cin, cout, hw, k, s, p, count in SHAPES:
        x = torch.randn(1, cin, hw, hw, generator=gen).to(dev)
        w = (torch.randn(cout, cin, k, k, generator=gen) / (cin * k * k) ** 0.5).to(dev)
        oh = (hw + 2 * p - k) // s + 1
        g = torch.randn(1, cout, oh, oh, generator=gen).to(dev)
        fwd, fb = "conv_fwd_" + name, "conv_fwdbwd_" + name
        if not args.filter or re.search(args.filter, fwd):
            with torch.no_grad():
                ms = median_ms(lambda: F.conv2d(x, w, None, s, p))
            fwd_sum += count * ms
            print(json.dumps({"bench": fwd, "ref": version, "ref_ms": ms}), flush=True)
        else:
            all_fwd = False
        if not args.filter or re.search(args.filter, fb):
            xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()

            def step():
                F.conv2d(xg, wg, None, s, p).backward(g)
                xg.grad = None
                wg.grad = None
            print(json.dumps({"bench": fb, "ref": version, "ref_ms": median_ms(step)}), flush=True)
    if all_fwd:
        print(json.dumps({"bench": "conv_fwd_resnet50_sum", "ref": version, "ref_ms": fwd_sum}), flush=True)


if __name__ == "__main__":
    main()
