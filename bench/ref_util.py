"""Shared by the bench/*_ref.py references (run as `python3 bench/NAME_ref.py --device D --filter RX` by
scripts/bench and the --with-ref benches; Python puts bench/ on the import path): the command line, the
device, the median timer, the JSON line per case, and the ResNet-50 convolution shapes."""
import argparse
import json
import os
import re
import sys
import time

import torch

# name, cin, cout, hw, k, stride, pad, occurrences in ResNet-50 (batch 1, 224x224). Keep in sync with
# bench/conv_shapes.h.
RESNET50_CONVS = [
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


def setup(description, cpu_threads=2, default_device="cpu", add_args=None):
    """Parses --device and --filter (plus what add_args(parser) adds); returns (args, torch.device).
    CPU runs use `cpu_threads` torch threads (None: leave torch's choice), as our benches use two cores."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--device", default=default_device, choices=["cpu", "cuda"])
    ap.add_argument("--filter", default="", help="regex on the case names")
    if add_args:
        add_args(ap)
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"{os.path.basename(sys.argv[0])}: CUDA requested but torch sees no GPU")
    if dev.type == "cpu" and cpu_threads is not None:
        torch.set_num_threads(cpu_threads)
    if dev.type == "cuda":
        # like for like: ours is strict FP32 unless asked otherwise, and torch turns TF32 on for cuDNN by
        # default (a reference that measures TF32 turns it back on for its own cases)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return args, dev


def wanted(args, *names):
    """Whether --filter selects any of the case names (no filter selects all)."""
    return not args.filter or any(re.search(args.filter, n) for n in names)


def timed_ms(f, dev):
    """Wall time of one call in ms; on the GPU the queue is drained before and after."""
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    f()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) * 1e3


def median_ms(f, dev, warmup=2, reps=9):
    """Median of `reps` timed calls after `warmup` untimed ones. Either count may be a function of the
    first warm-up call's time, so slow cases get fewer repetitions."""
    first = timed_ms(f, dev)
    for _ in range(max((warmup(first) if callable(warmup) else warmup) - 1, 0)):
        f()
    n = reps(first) if callable(reps) else reps
    times = sorted(timed_ms(f, dev) for _ in range(n))
    return times[len(times) // 2]


def emit(bench, ref, ref_ms, **extra):
    """One result line for scripts/bench: {"bench", "ref", "ref_ms", ...extra}."""
    print(json.dumps({"bench": bench, "ref": ref, "ref_ms": ref_ms, **extra}), flush=True)
