"""Minimal safetensors reader/writer for the test oracles (numpy/torch <-> the C++ engine).

Debian's torch 1.13 ships no safetensors package, and the format is small enough to speak directly.
"""
import json
import os
import struct

import numpy as np

_NP2ST = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int32"): "I32",
          np.dtype("int64"): "I64", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
          np.dtype("float16"): "F16"}
_ST2NP = {v: k for k, v in _NP2ST.items()}


def _to_numpy(value):
    if hasattr(value, "detach"):  # torch.Tensor
        value = value.detach().cpu().contiguous().numpy()
    return np.asarray(value).copy(order="C")  # (ascontiguousarray would turn 0-d scalars into shape [1])


def save(path, tensors, metadata=None):
    """Writes {name: ndarray or torch.Tensor} atomically (temporary file, then rename)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        arr = _to_numpy(tensors[name])
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        raw = arr.tobytes()
        header[name] = {"dtype": _NP2ST[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * ((8 - (len(head) + 8) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def load(path):
    """Returns ({name: ndarray}, metadata)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        out[name] = np.frombuffer(data[b:en], dtype=_ST2NP[e["dtype"]]).reshape(e["shape"]).copy()
    return out, meta
