"""Reference for bench/resnet.cpp: torchvision's resnet50 forward at 224x224, batch 1, eval, no grad."""
import argparse
import json
import re
import time

import torch
import torchvision

ap = argparse.ArgumentParser()
ap.add_argument("--device", default="cpu")
ap.add_argument("--filter", default="")
args = ap.parse_args()
dev = torch.device(args.device)
if dev.type == "cpu":
    torch.set_num_threads(2)
model = torchvision.models.resnet50(weights=None).eval().to(dev)


def median_ms(f, warmup=2, reps=9):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps):
        if dev.type == "cuda":
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            f()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        else:
            t = time.perf_counter()
            f()
            times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


with torch.no_grad():
    for batch in [1]:
        name = f"resnet50_forward_224_b{batch}"
        if args.filter and not re.search(args.filter, name):
            continue
        x = torch.randn(batch, 3, 224, 224, device=dev)
        ms = median_ms(lambda: model(x).cpu())
        print(json.dumps({"bench": name, "ref": f"torchvision {torchvision.__version__}", "ref_ms": ms}))
