"""Reference for bench/maskrcnn.cpp: torchvision's Mask R-CNN (FrozenBatchNorm2d, 3 trainable ResNet stages,
51 classes, min_size = max_size = 512) on the weights, image and targets bench-maskrcnn wrote to its exchange
file (MRC_BENCH_MASKRCNN_INPUT, default $TMPDIR/mrc_bench_maskrcnn_input.safetensors): inference and one SGD
step, 2 threads. Without that file it runs its own random weights and says so ("same_weights": false)."""
import argparse
import json
import os
import re
import sys
import tempfile
import time

import torch
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import misc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import mrc_st  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--device", default="cpu")
ap.add_argument("--filter", default="")
args = ap.parse_args()
dev = torch.device(args.device)
if dev.type == "cpu":
    torch.set_num_threads(2)
INFER, TRAIN = "maskrcnn_infer_512_c51_b1", "maskrcnn_train_step_512_c51_b1"
if args.filter and not (re.search(args.filter, INFER) or re.search(args.filter, TRAIN)):
    sys.exit(0)

body = torchvision.models.resnet50(weights=None, norm_layer=misc.FrozenBatchNorm2d)
model = torchvision.models.detection.mask_rcnn.MaskRCNN(_resnet_fpn_extractor(body, 3), num_classes=51,
                                                         min_size=512, max_size=512)
path = os.environ.get("MRC_BENCH_MASKRCNN_INPUT", os.path.join(tempfile.gettempdir(), "mrc_bench_maskrcnn_input.safetensors"))
same = os.path.exists(path)
if same:
    t, _ = mrc_st.load(path)
    model.load_state_dict({k[6:]: torch.tensor(v) for k, v in t.items() if k.startswith("state.")})
    image = torch.tensor(t["image"])
    target = {"boxes": torch.tensor(t["boxes"]), "labels": torch.tensor(t["labels"]), "masks": torch.tensor(t["masks"])}
else:
    image = torch.rand(3, 512, 512)
    target = {"boxes": torch.tensor([[40.0, 60.0, 160.0, 150.0]]), "labels": torch.tensor([1]),
              "masks": torch.zeros(1, 512, 512, dtype=torch.uint8)}
    target["masks"][0, 60:150, 40:160] = 1
model.to(dev)
image = image.to(dev)
target = {k: v.to(dev) for k, v in target.items()}


def median_ms(f, warmup=1, reps=3):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        s = time.perf_counter()
        f()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - s) * 1e3)
    return sorted(times)[len(times) // 2]


ref = f"torchvision {torchvision.__version__}"
if not args.filter or re.search(args.filter, INFER):
    model.eval()
    out = {}

    def infer():
        with torch.no_grad():
            out["n"] = model([image])[0]["masks"].shape[0]
    ms = median_ms(infer)
    print(json.dumps({"bench": INFER, "ref": ref, "ref_ms": ms, "ref_detections": int(out["n"]), "same_weights": same}))
if not args.filter or re.search(args.filter, TRAIN):
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6, momentum=0.9, weight_decay=1e-4)

    def step():
        opt.zero_grad()
        losses = model([image], [dict(target)])
        sum(losses.values()).backward()
        opt.step()
    ms = median_ms(step)
    print(json.dumps({"bench": TRAIN, "ref": ref, "ref_ms": ms, "same_weights": same}))
