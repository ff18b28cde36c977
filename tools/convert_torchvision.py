#!/usr/bin/env python3
"""Converts a torchvision Mask R-CNN checkpoint (.pth) to safetensors for MaskRCNN::load_weights.

  /usr/bin/python3 tools/convert_torchvision.py IN.pth OUT.safetensors [--drop-predictors] [--num-classes K]

IN.pth: a state_dict of torchvision's maskrcnn_resnet50_fpn (or resnet101), any class count, as saved by
torch.save(model.state_dict()), a training checkpoint holding it under "model" / "state_dict", or torchvision's
published COCO weights, whose older key layout (rpn.head.conv.weight, backbone.fpn.inner_blocks.N.weight,
roi_heads.mask_head.mask_fcnN.weight) is renamed to the current one, as torchvision's own loaders do.
--drop-predictors leaves out the class-specific layers (roi_heads.box_predictor.*,
roi_heads.mask_predictor.mask_fcn_logits.*); without it, the model must have the checkpoint's class count
unless it loads with MaskRCNN::class_specific_layers() excluded. --num-classes K checks the checkpoint's count.
The output's metadata records the class count and the source. Exit status 2 on bad input; the output file
appears whole or not at all.
"""
import argparse
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mrc_st  # noqa: E402

CLASS_SPECIFIC = re.compile(r"roi_heads\.(box_predictor\..*|mask_predictor\.mask_fcn_logits\..*)")


def fail(msg):
    print(f"convert_torchvision: {msg}", file=sys.stderr)
    sys.exit(2)


def unwrap(obj, path):
    """The state_dict inside whatever torch.save wrote."""
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        fail(f"{path}: expected a state_dict (name -> tensor), or a checkpoint holding one under \"model\"")
    return {k[7:] if k.startswith("module.") else k: v for k, v in obj.items()}  # DistributedDataParallel prefix


def modernize(name):
    """torchvision's version-1 names -> the current ones (RPNHead, FeaturePyramidNetwork, MaskRCNNHeads)."""
    m = re.fullmatch(r"rpn\.head\.conv\.(weight|bias)", name)
    if m:
        return f"rpn.head.conv.0.0.{m.group(1)}"
    m = re.fullmatch(r"backbone\.fpn\.(inner_blocks|layer_blocks)\.(\d+)\.(weight|bias)", name)
    if m:
        return f"backbone.fpn.{m.group(1)}.{m.group(2)}.0.{m.group(3)}"
    m = re.fullmatch(r"roi_heads\.mask_head\.mask_fcn(\d+)\.(weight|bias)", name)
    if m:
        return f"roi_heads.mask_head.{int(m.group(1)) - 1}.0.{m.group(2)}"
    return name


def convert(src, dst, drop_predictors=False, num_classes=None):
    if not os.path.isfile(src):
        fail(f"{src}: no such file")
    try:
        obj = torch.load(src, map_location="cpu")
    except Exception as e:  # torch raises many kinds on a damaged file
        fail(f"{src}: not a torch checkpoint ({e})")
    state = {modernize(k): v for k, v in unwrap(obj, src).items()}
    for required in ("backbone.body.conv1.weight", "rpn.head.cls_logits.weight", "roi_heads.box_predictor.cls_score.weight"):
        if required not in state:
            fail(f"{src}: no \"{required}\": not a torchvision Mask R-CNN state_dict")
    classes = int(state["roi_heads.box_predictor.cls_score.weight"].shape[0])
    if num_classes is not None and num_classes != classes:
        fail(f"{src}: the checkpoint has {classes} classes (roi_heads.box_predictor.cls_score.weight), "
             f"--num-classes says {num_classes}")
    out = {}
    for k, v in state.items():
        if drop_predictors and CLASS_SPECIFIC.fullmatch(k):
            continue
        v = v.detach().cpu().contiguous()
        out[k] = v.float() if v.is_floating_point() else v
    meta = {"format": "torchvision maskrcnn state_dict", "num_classes": classes, "source": os.path.basename(src),
            "predictors": "dropped" if drop_predictors else "kept"}
    mrc_st.save(dst, out, meta)
    return classes, len(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--drop-predictors", action="store_true")
    ap.add_argument("--num-classes", type=int)
    a = ap.parse_args(argv)
    classes, n = convert(a.src, a.dst, a.drop_predictors, a.num_classes)
    print(f"wrote {a.dst}: {n} tensors, {classes} classes")


if __name__ == "__main__":
    main()
