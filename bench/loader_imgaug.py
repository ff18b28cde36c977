"""Reference for bench/loader.cpp: the same loader work in Python with imgaug 0.4 (PyPI).

Per photo: decode the JPEG (PIL, libjpeg-turbo), rasterize its VIA polygons into instance masks
(skimage.draw.polygon, as matterport's balloon sample), resize matterport-style "square"
(IMAGE_MIN_DIM 800, IMAGE_MAX_DIM 1024, padded to 1024x1024; cv2.resize bilinear for the image,
nearest for the masks: the fastest faithful choice), then the study's pipeline, read from the same
JSON config as ours, applied by imgaug to the image and the masks (SegmentationMapsOnImage).
Runs on 1..K worker processes (the GIL makes threads useless here; cv2 is limited to one thread per
process so each worker is one core) and prints one JSON line per worker count:
  {"workers": K, "images": N, "seconds": S, "ms_per_image": ..., "images_per_s": ...}

Usage: python3 bench/loader_imgaug.py --annotations VIA.json [--images DIR] [--config PIPELINE.json]
                                      [--workers 1,2] [--repeats 3] [--limit N]
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

import numpy as np

# imgaug 0.4 uses aliases that numpy 1.24 removed.
for _name, _type in [("bool", bool), ("int", int), ("float", float), ("complex", complex), ("object", object),
                     ("str", str)]:
    if _name not in np.__dict__:
        setattr(np, _name, _type)

import cv2  # noqa: E402
import imgaug  # noqa: E402
import imgaug.augmenters as iaa  # noqa: E402
from imgaug.augmentables.segmaps import SegmentationMapsOnImage  # noqa: E402
from PIL import Image  # noqa: E402
from skimage.draw import polygon as sk_polygon  # noqa: E402

MIN_DIM, MAX_DIM = 800, 1024


def param(v):
    """Our JSON parameter -> imgaug's: [a, b] is a tuple (uniform), {"choice": [...]} a list."""
    if isinstance(v, list):
        return tuple(param(x) for x in v)
    if isinstance(v, dict):
        if "choice" in v:
            return list(v["choice"])
        return {k: param(x) for k, x in v.items()}
    return v


def build(aug):
    t = aug["type"]
    kw = {k: v for k, v in aug.items() if k != "type" and not k.startswith("_")}
    if t in ("Sequential", "SomeOf", "OneOf"):
        children = [build(c) for c in kw.pop("children")]
        if t == "Sequential":
            return iaa.Sequential(children, random_order=kw.get("random_order", False))
        if t == "OneOf":
            return iaa.OneOf(children)
        n = kw["n"]
        n = tuple(n) if isinstance(n, list) else n
        return iaa.SomeOf(n, children, random_order=kw.get("random_order", False))
    if t == "Sometimes":
        return iaa.Sometimes(kw.get("p", 0.5), [build(c) for c in kw["then"]],
                             [build(c) for c in kw.get("else", [])] or None)
    if t == "Crop":
        for key in ("percent", "px"):
            if isinstance(kw.get(key), dict) and "choice" not in kw[key]:
                d = kw[key]
                kw[key] = tuple(param(d.get(s, 0)) for s in ("top", "right", "bottom", "left"))
        return iaa.Crop(**{k: (param(v) if k in ("percent", "px") and not isinstance(v, tuple) else v)
                           for k, v in kw.items()})
    return getattr(iaa, t)(**{k: param(v) for k, v in kw.items()})


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
    items = cfg["pipeline"] if isinstance(cfg, dict) else cfg
    return iaa.Sequential([build(a) for a in items],
                          random_order=cfg.get("random_order", False) if isinstance(cfg, dict) else False)


def read_via(path, images_dir):
    with open(path) as f:
        root = json.load(f)
    meta = root.get("_via_img_metadata", root)
    photos = []
    for entry in meta.values():
        regions = entry["regions"]
        regions = list(regions.values()) if isinstance(regions, dict) else regions
        polys = [(r["shape_attributes"]["all_points_x"], r["shape_attributes"]["all_points_y"])
                 for r in regions if r["shape_attributes"].get("name") == "polygon"]
        photos.append((os.path.join(images_dir, entry["filename"]), polys))
    return photos


def load(photo, seq):
    path, polys = photo
    image = np.asarray(Image.open(path).convert("RGB"))
    h, w = image.shape[:2]
    masks = np.zeros((h, w, max(len(polys), 1)), np.uint8)
    for i, (xs, ys) in enumerate(polys):
        rr, cc = sk_polygon(ys, xs, shape=(h, w))
        masks[rr, cc, i] = 1
    scale = max(1, MIN_DIM / min(h, w))
    if round(max(h, w) * scale) > MAX_DIM:
        scale = MAX_DIM / max(h, w)
    nh, nw = round(h * scale), round(w * scale)
    if scale != 1:
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        masks = cv2.resize(masks, (nw, nh), interpolation=cv2.INTER_NEAREST)
        if masks.ndim == 2:
            masks = masks[..., None]
    top, left = (MAX_DIM - nh) // 2, (MAX_DIM - nw) // 2
    pad = ((top, MAX_DIM - nh - top), (left, MAX_DIM - nw - left), (0, 0))
    image = np.pad(image, pad)
    masks = np.pad(masks, pad)
    segmap = SegmentationMapsOnImage(masks, shape=image.shape)
    image_aug, seg_aug = seq(image=image, segmentation_maps=segmap)
    return image_aug.shape, int(seg_aug.get_arr().sum() > 0)


_SEQ = None
_PHOTOS = None


def _init(config, photos, seed):
    global _SEQ, _PHOTOS
    cv2.setNumThreads(1)
    imgaug.seed(seed + os.getpid())
    _SEQ = load_config(config)
    _PHOTOS = photos


def _work(i):
    return load(_PHOTOS[i], _SEQ)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--images", default=None)
    ap.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs", "augment_study.json"))
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    photos = read_via(args.annotations, args.images or os.path.dirname(args.annotations))
    if args.limit:
        photos = photos[:args.limit]
    # Validate before timing: every photo comes out 1024x1024 with some mask left.
    _init(args.config, photos, 0)
    for p in photos[:3]:
        shape, has_mask = load(p, _SEQ)
        if shape[:2] != (MAX_DIM, MAX_DIM):
            sys.exit(f"loader_imgaug.py: unexpected output shape {shape}")
    for k in [int(x) for x in args.workers.split(",")]:
        times = []
        with mp.get_context("fork").Pool(k, initializer=_init, initargs=(args.config, photos, 0)) as pool:
            pool.map(_work, range(min(len(photos), 2 * k)))   # warm-up: imports, caches
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                pool.map(_work, range(len(photos)), chunksize=1)
                times.append(time.perf_counter() - t0)
        t = sorted(times)[len(times) // 2]
        print(json.dumps({"workers": k, "images": len(photos), "seconds": round(t, 4),
                          "ms_per_image": round(1000 * t / len(photos), 3),
                          "images_per_s": round(len(photos) / t, 3), "imgaug": imgaug.__version__}), flush=True)


if __name__ == "__main__":
    main()
