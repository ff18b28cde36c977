"""Reads a mrc-train run's TensorBoard events with the tensorboard package's own reader (a real client) and prints
what it found as JSON: {"scalars": {tag: [[step, value], ...]}, "images": {tag: [[step, width, height], ...]}}.
Exit code 3 when the tensorboard package is not installed (the C++ test then reports itself skipped).

usage: read_tensorboard.py RUN/tensorboard
"""
import json
import struct
import sys

try:
    from tensorboard.backend.event_processing import event_accumulator
except ImportError:
    sys.exit(3)


def png_size(data):
    # An IHDR chunk follows the 8-byte signature: length, "IHDR", width, height (big-endian).
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def main():
    acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    out = {"scalars": {}, "images": {}}
    for tag in tags["scalars"]:
        out["scalars"][tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
    for tag in tags["images"]:
        rows = []
        for e in acc.Images(tag):
            w, h = png_size(e.encoded_image_string)
            rows.append([e.step, e.width, e.height, w, h])
        out["images"][tag] = rows
    json.dump(out, sys.stdout)


main()
