#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target: small, valid inputs that reach every branch of the
parsers (VIA 1.x and 2.x shapes and attributes, COCO polygons and RLE in both forms, safetensors of
every dtype, the repository's configs, compressed RLE strings). Nothing here comes from data sets.
    fuzz/make_corpus.py OUT_DIR      -> OUT_DIR/{via,coco,safetensors,config,rle}/seed-*
"""
import json
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rle_counts(mask, h, w):
    """Column-major runs starting with zeros, as pycocotools (mask is a list of rows)."""
    counts, cur, run = [], 0, 0
    for x in range(w):
        for y in range(h):
            v = 1 if mask[y][x] else 0
            if v != cur:
                counts.append(run)
                run, cur = 0, v
            run += 1
    counts.append(run)
    return counts


def rle_string(counts):
    """pycocotools' compressed form: deltas against counts[i-2] from i > 2, 5 bits a character."""
    out = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        while True:
            ch = x & 0x1F
            x >>= 5
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
            if not more:
                break
    return "".join(out)


def disc(h, w, cx, cy, r):
    return [[1 if (x - cx) ** 2 + (y - cy) ** 2 <= r * r else 0 for x in range(w)] for y in range(h)]


def via1():
    shapes = [
        {"name": "polygon", "all_points_x": [1, 9, 5, 1], "all_points_y": [1, 2, 8, 1]},
        {"name": "polyline", "all_points_x": [0.5, 3.25, 7], "all_points_y": [2, 6.5, 1]},
        {"name": "rect", "x": 2, "y": 3, "width": 5, "height": 4},
        {"name": "circle", "cx": 6, "cy": 6, "r": 3},
        {"name": "ellipse", "cx": 8, "cy": 5, "rx": 4, "ry": 2},
        {"name": "point", "cx": 3, "cy": 3},
    ]
    regions = {str(i): {"shape_attributes": s, "region_attributes": {"name": ["cup", "plate"][i % 2]}}
               for i, s in enumerate(shapes)}
    return {"a.jpg12345": {"fileref": "", "size": 12345, "filename": "a.jpg", "base64_img_data": "",
                           "file_attributes": {}, "regions": regions},
            "b.png0": {"filename": "b.png", "size": 0, "regions": {}, "file_attributes": {}}}


def via2(declared):
    regions = [
        {"shape_attributes": {"name": "polygon", "all_points_x": [2, 10, 6], "all_points_y": [1, 1, 9]},
         "region_attributes": {"name": "cup"}},
        {"shape_attributes": {"name": "ellipse", "cx": 5, "cy": 5, "rx": 4, "ry": 2, "theta": 0.5},
         "region_attributes": {"name": "plate"}},
        {"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 3, "height": 2},
         "region_attributes": {"name": {"cup": True}}},
    ]
    root = {"_via_settings": {"ui": {}, "core": {"buffer_size": 18}, "project": {"name": "seed"}},
            "_via_img_metadata": {"c.jpg99": {"filename": "c.jpg", "size": 99, "regions": regions,
                                              "file_attributes": {}}},
            "_via_image_id_list": ["c.jpg99"]}
    if declared:
        root["_via_attributes"] = {"region": {"name": {"type": "dropdown", "description": "",
                                                       "options": {"cup": "a cup", "plate": "a plate"},
                                                       "default_options": {}}}, "file": {}}
    return root


def coco():
    h, w = 6, 5
    m = disc(h, w, 2, 3, 2)
    counts = rle_counts(m, h, w)
    return {
        "info": {"description": "seed"},
        "images": [{"id": 1, "file_name": "a.jpg", "width": w, "height": h},
                   {"id": 7, "file_name": "b.jpg", "width": 16, "height": 12},
                   {"id": 9, "file_name": "c.jpg"}],
        "categories": [{"id": 3, "name": "cup", "supercategory": "x"}, {"id": 1, "name": "plate"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "iscrowd": 1,
             "segmentation": {"size": [h, w], "counts": rle_string(counts)}, "bbox": [0, 1, 4, 4], "area": 9},
            {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 1, "segmentation": {"size": [h, w], "counts": counts}},
            {"id": 3, "image_id": 7, "category_id": 1, "iscrowd": 0,
             "segmentation": [[1.5, 1.1, 10.3, 2.0, 6.0, 9.9], [12, 1, 15, 1, 14, 5, 12.5, 4]]},
            {"id": 4, "image_id": 9, "category_id": 3, "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]], "iscrowd": False},
        ],
    }


def safetensors(entries, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def write(out, target, name, content):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(content if isinstance(content, bytes) else content.encode())


def main():
    out = Path(sys.argv[1])
    write(out, "via", "via1", json.dumps(via1()))
    write(out, "via", "via2-declared", json.dumps(via2(True)))
    write(out, "via", "via2-free-text", json.dumps(via2(False), indent=1))
    write(out, "coco", "polygons-rle", json.dumps(coco()))
    write(out, "coco", "empty", json.dumps({"images": [], "annotations": [], "categories": []}))

    f32 = struct.pack("<6f", *[0.5 * i for i in range(6)])
    write(out, "safetensors", "f32", safetensors([("w", "F32", [2, 3], f32)], {"format": "pt"}))
    write(out, "safetensors", "mixed", safetensors([
        ("a.bias", "F64", [2], struct.pack("<2d", 1.0, -2.0)), ("ids", "I64", [3], struct.pack("<3q", 1, 2, 3)),
        ("n", "I32", [], struct.pack("<i", 7)), ("mask", "U8", [4], bytes([0, 1, 1, 0])),
        ("h", "F16", [2], bytes(4)), ("b", "BF16", [1, 1], bytes(2)), ("flag", "BOOL", [2], bytes([1, 0])),
        ("empty", "F32", [0, 3], b"")]))
    write(out, "safetensors", "header-only", safetensors([]))

    for p in sorted((ROOT / "configs").glob("*.json")):
        write(out, "config", p.stem, p.read_text())
    write(out, "config", "small", json.dumps({"NUM_CLASSES": 6, "IMAGE_MIN_DIM": 64, "IMAGE_MAX_DIM": 96,
                                              "BACKBONE_NORM": "gn", "GN_GROUPS": 8, "MASK_POOL_SIZE": 7,
                                              "MASK_SHAPE": [14, 14], "LOSS_WEIGHTS": {"mrcnn_mask_loss": 2.0},
                                              "RPN_ANCHOR_RATIOS": [0.5, 1, 2], "SEED": 3}))

    for i, (h, w, cx, cy, r) in enumerate([(6, 5, 2, 3, 2), (40, 30, 15, 20, 12), (3, 3, 9, 9, 1), (64, 64, 10, 50, 30)]):
        write(out, "rle", f"disc{i}", rle_string(rle_counts(disc(h, w, cx, cy, r), h, w)))
    write(out, "rle", "big-runs", rle_string([1000000, 3, 70000, 123456789, 5]))
    write(out, "rle", "mask-bytes", bytes([7, 5] + [i * 37 % 256 for i in range(60)]))


if __name__ == "__main__":
    main()
