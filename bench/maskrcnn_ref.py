"""Reference for bench/maskrcnn.cpp: torchvision's Mask R-CNN (FrozenBatchNorm2d, 3 trainable ResNet stages,
51 classes, min_size = max_size = 512) on the weights, image and targets bench-maskrcnn wrote to its exchange
file (MRC_BENCH_MASKRCNN_INPUT, default $TMPDIR/mrc_bench_maskrcnn_input.safetensors): inference and one SGD
step, 2 threads. Without that file it runs its own random weights and says so ("same_weights": false)."""
import os
import sys
import tempfile

import torch
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import misc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import mrc_st  # noqa: E402
from ref_util import emit, median_ms, setup, wanted  # noqa: E402

args, dev = setup(__doc__.splitlines()[0])
INFER, TRAIN = "maskrcnn_infer_512_c51_b1", "maskrcnn_train_step_512_c51_b1"
if not wanted(args, INFER, TRAIN):
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


ref = f"torchvision {torchvision.__version__}"
if wanted(args, INFER):
    model.eval()
    out = {}

    def infer():
        with torch.no_grad():
            out["n"] = model([image])[0]["masks"].shape[0]
    ms = median_ms(infer, dev, warmup=1, reps=3)
    emit(INFER, ref, ms, ref_detections=int(out["n"]), same_weights=same)
if wanted(args, TRAIN):
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6, momentum=0.9, weight_decay=1e-4)

    def step():
        opt.zero_grad()
        losses = model([image], [dict(target)])
        sum(losses.values()).backward()
        opt.step()
    ms = median_ms(step, dev, warmup=1, reps=3)
    emit(TRAIN, ref, ms, same_weights=same)
