"""Reference for bench/detection_ops.cpp: torchvision.ops (roi_align forward and backward, nms) and
AnchorGenerator on exactly the inputs the C++ bench builds (same splitmix64 stream), timed after warm-up;
one JSON line per case {"bench", "device", "ref", "ref_ms", "check"}, "check" holding values the C++
side compares with its own results (output sums, keep counts and a hash of the keep list).

Usage: python3 detection_ops_ref.py [--device cpu|cuda] [--filter REGEX] [--threads N]
"""
import os

import numpy as np
import torch
import torchvision
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import nms, roi_align

from ref_util import emit as emit_line, median_ms as median_of, setup, wanted

FEAT = (2, 256, 200, 272)          # features at stride 4 of an 800 x 1088 image
IMAGE_H, IMAGE_W = 800, 1088
ROI_CASES = [(512, 7), (2000, 7), (512, 14), (2000, 14)]
NMS_CASES = [1000, 6000, 12000, 100000]
MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def uniform(stream, n, start=0):
    """u(stream, i) for i in [start, start + n): splitmix64 of (stream << 40) + i, top 24 bits / 2^24."""
    with np.errstate(over="ignore"):
        x = (np.uint64(stream) << np.uint64(40)) + np.arange(start, start + n, dtype=np.uint64)
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def features():
    return (2.0 * uniform(1, int(np.prod(FEAT))) - 1.0).astype(np.float32).reshape(FEAT)


def rois(k):
    u = uniform(2, 8 * k).reshape(k, 8)
    w, h = 16 + u[:, 1] * 384, 16 + u[:, 2] * 384
    x1, y1 = u[:, 3] * (IMAGE_W - w), u[:, 4] * (IMAGE_H - h)
    return np.stack([np.floor(u[:, 0] * 2), x1, y1, x1 + w, y1 + h], 1).astype(np.float32)


def nms_inputs(n):
    objects = 20 + n // 500
    o = uniform(5, 4 * objects).reshape(objects, 4)
    ow, oh = 24 + o[:, 2] * 300, 24 + o[:, 3] * 300
    ox, oy = o[:, 0] * 1024, o[:, 1] * 1024
    u = uniform(6, 8 * n).reshape(n, 8)
    pick = np.minimum((u[:, 0] * objects).astype(np.int64), objects - 1)
    cx = ox[pick] + (u[:, 1] - 0.5) * 0.2 * ow[pick]
    cy = oy[pick] + (u[:, 2] - 0.5) * 0.2 * oh[pick]
    w, h = ow[pick] * (0.8 + 0.4 * u[:, 3]), oh[pick] * (0.8 + 0.4 * u[:, 4])
    scattered = u[:, 5] < 0.05
    cx = np.where(scattered, u[:, 6] * 1024, cx)
    cy = np.where(scattered, u[:, 7] * 1024, cy)
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
    return boxes, uniform(7, n).astype(np.float32)


def keep_hash(keep):
    h = 1469598103934665603
    for v in keep.tolist():
        h = ((h ^ (v & 0xFFFFFFFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return str(h)


def main():
    def threads(ap):
        ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    args, dev = setup(__doc__.splitlines()[0], cpu_threads=None, add_args=threads)
    torch.set_num_threads(args.threads)
    ref = f"torchvision {torchvision.__version__}"

    def median_ms(f):  # the first call warms up; slow cases get fewer repetitions
        return median_of(f, dev, warmup=lambda first: 1 if first > 500 else 2,
                         reps=lambda first: 3 if first > 500 else (7 if first > 20 else 21))

    def emit(name, ms, check):
        emit_line(name, ref, round(ms, 4), device=args.device, check=check)

    want = (lambda n: wanted(args, n))
    x = None
    for k, p in ROI_CASES:
        fwd, bwd = f"roi_align_fwd_k{k}_{p}x{p}", f"roi_align_bwd_k{k}_{p}x{p}"
        if not (want(fwd) or want(bwd)):
            continue
        if x is None:
            x = torch.from_numpy(features()).to(dev)
        r = torch.from_numpy(rois(k)).to(dev)
        if want(fwd):
            y = roi_align(x, r, (p, p), 0.25, 2, False)
            ms = median_ms(lambda: roi_align(x, r, (p, p), 0.25, 2, False))
            emit(fwd, ms, {"sum": float(y.double().sum()), "abs_sum": float(y.double().abs().sum())})
        if want(bwd):
            n_out = k * FEAT[1] * p * p
            g = torch.from_numpy((2.0 * uniform(3, n_out) - 1.0).astype(np.float32).reshape(k, FEAT[1], p, p)).to(dev)
            back = lambda: torch.ops.torchvision._roi_align_backward(g, r, 0.25, p, p, *FEAT, 2, False)
            gx = back()
            ms = median_ms(back)
            emit(bwd, ms, {"sum": float(gx.double().sum()), "abs_sum": float(gx.double().abs().sum())})
    for n in NMS_CASES:
        name = f"nms_{n // 1000}k"
        if not want(name):
            continue
        b, s = nms_inputs(n)
        b, s = torch.from_numpy(b).to(dev), torch.from_numpy(s).to(dev)
        keep = nms(b, s, 0.7)
        ms = median_ms(lambda: nms(b, s, 0.7))
        emit(name, ms, {"kept": int(keep.numel()), "hash": keep_hash(keep.cpu())})
    name = "anchors_1024_5lvl"
    if want(name):
        gen = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
        images = ImageList(torch.zeros(1, 3, 1024, 1024, device=dev), [(1024, 1024)])
        feats = [torch.zeros(1, 1, 1024 // s, 1024 // s, device=dev) for s in (4, 8, 16, 32, 64)]
        a = gen(images, feats)[0]
        ms = median_ms(lambda: gen(images, feats))
        emit(name, ms, {"count": int(a.shape[0]), "sum": float(a.double().sum())})


if __name__ == "__main__":
    main()
