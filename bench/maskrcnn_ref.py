"""Reference for bench/maskrcnn.cpp: torchvision's Mask R-CNN (FrozenBatchNorm2d, 3 trainable ResNet stages,
51 classes, min_size = max_size = 512) on the weights, image and targets bench-maskrcnn wrote to its exchange
file (MRC_BENCH_MASKRCNN_INPUT, default $TMPDIR/mrc_bench_maskrcnn_input.safetensors): inference and one SGD
step, 2 threads. Without that file it runs its own random weights and says so ("same_weights": false).
Under PyTorch 2.x (.venv-bench) it also runs the same model exported to ONNX in ONNX Runtime (inference), and
with --profile prints torch.profiler's time per stage (the stages bench-maskrcnn --profile reports)."""
import os
import sys
import tempfile

import torch
import torchvision
from torchvision.models.detection import roi_heads as tv_roi_heads
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import misc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import mrc_st  # noqa: E402
from ref_util import (emit, emit_profile, has_onnxruntime, median_ms, onnx_session, peer, setup,  # noqa: E402
                      stage_profile, wanted)

args, dev = setup(__doc__.splitlines()[0])
INFER, TRAIN = "maskrcnn_infer_512_c51_b1", "maskrcnn_train_step_512_c51_b1"
STUDY = "maskrcnn_infer_1024x768_study_c51_b1"  # a 1024x768 photo, the study's 800/1024 resize
if not wanted(args, INFER, TRAIN, STUDY):
    sys.exit(0)
PEER, LABEL = peer()

body = torchvision.models.resnet50(weights=None, norm_layer=misc.FrozenBatchNorm2d)
model = torchvision.models.detection.mask_rcnn.MaskRCNN(_resnet_fpn_extractor(body, 3), num_classes=51,
                                                         min_size=512, max_size=512)
path = os.environ.get("MRC_BENCH_MASKRCNN_INPUT", os.path.join(tempfile.gettempdir(), "mrc_bench_maskrcnn_input.safetensors"))
same = os.path.exists(path)
if same:
    t, _ = mrc_st.load(path)
    model.load_state_dict({k[6:]: torch.tensor(v) for k, v in t.items() if k.startswith("state.")})
    image = torch.tensor(t["image"])
    study_image = torch.tensor(t["image_study"])
    target = {"boxes": torch.tensor(t["boxes"]), "labels": torch.tensor(t["labels"]), "masks": torch.tensor(t["masks"])}
else:
    image = torch.rand(3, 512, 512)
    study_image = torch.rand(3, 768, 1024)
    target = {"boxes": torch.tensor([[40.0, 60.0, 160.0, 150.0]]), "labels": torch.tensor([1]),
              "masks": torch.zeros(1, 512, 512, dtype=torch.uint8)}
    target["masks"][0, 60:150, 40:160] = 1
model.to(dev)
image = image.to(dev)
target = {k: v.to(dev) for k, v in target.items()}

rh = model.roi_heads
STAGES = {"transform": model.transform, "backbone": model.backbone.body, "fpn": model.backbone.fpn,
          "rpn": model.rpn, "box_head": rh, "mask_head": [rh.mask_roi_pool, rh.mask_head, rh.mask_predictor]}
METHODS = [("paste", model.transform, "postprocess")]
FUNCTIONS = [("mask_head", tv_roi_heads, "maskrcnn_loss"), ("mask_head", tv_roi_heads, "maskrcnn_inference")]

ref = f"{LABEL} torchvision {torchvision.__version__.split('+')[0]}"
if wanted(args, INFER):
    model.eval()
    out = {}

    def infer():
        with torch.no_grad():
            out["n"] = model([image])[0]["masks"].shape[0]
    ms = median_ms(infer, dev, warmup=1, reps=3)
    emit(INFER, ref, ms, peer=PEER, ref_detections=int(out["n"]), same_weights=same)
    if args.profile:
        emit_profile(INFER, LABEL, stage_profile(infer, STAGES, METHODS, FUNCTIONS))
    if dev.type == "cpu" and has_onnxruntime():
        sess, ort_label = onnx_session(model, ([image],), os.path.splitext(path)[0] + ".onnx", stale_after=path if same else None)
        feed = {sess.get_inputs()[0].name: image.numpy()}

        def ort_infer():
            out["n_ort"] = sess.run(None, feed)[3].shape[0]
        ms = median_ms(ort_infer, dev, warmup=1, reps=3)
        emit(INFER, ort_label, ms, peer="ort", ref_detections=int(out["n_ort"]), same_weights=same)
if wanted(args, STUDY):  # before the training steps change the weights, as bench-maskrcnn runs it
    model.eval()
    model.transform.min_size, model.transform.max_size = (800,), 1024
    simg = study_image.to(dev)
    out = {}

    def infer_study():
        with torch.no_grad():
            out["n"] = model([simg])[0]["masks"].shape[0]
    ms = median_ms(infer_study, dev, warmup=1, reps=3)
    emit(STUDY, ref, ms, peer=PEER, ref_detections=int(out["n"]), same_weights=same)
    if dev.type == "cpu" and has_onnxruntime():
        sess, ort_label = onnx_session(model, ([simg],), os.path.splitext(path)[0] + "_study.onnx",
                                       stale_after=path if same else None)
        feed = {sess.get_inputs()[0].name: simg.numpy()}

        def ort_study():
            out["n_ort"] = sess.run(None, feed)[3].shape[0]
        ms = median_ms(ort_study, dev, warmup=1, reps=3)
        emit(STUDY, ort_label, ms, peer="ort", ref_detections=int(out["n_ort"]), same_weights=same)
    model.transform.min_size, model.transform.max_size = (512,), 512
if wanted(args, TRAIN):
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6, momentum=0.9, weight_decay=1e-4)

    def step():
        opt.zero_grad()
        losses = model([image], [dict(target)])
        sum(losses.values()).backward()
        opt.step()
    ms = median_ms(step, dev, warmup=1, reps=3)
    emit(TRAIN, ref, ms, peer=PEER, same_weights=same)
    if args.profile:
        emit_profile(TRAIN, LABEL, stage_profile(step, STAGES, METHODS + [("optimizer", opt, "step")], FUNCTIONS))
