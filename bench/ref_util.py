"""Shared by the bench/*_ref.py references (run as `python3 bench/NAME_ref.py --device D --filter RX` by
scripts/bench and the --with-ref benches; Python puts bench/ on the import path): the command line, the
device, the median timer, the JSON line per case, the ResNet-50 convolution shapes, which peer this Python is
(Debian's torch 1.13, the tests' oracle, or PyTorch 2.x from .venv-bench), ONNX Runtime sessions of exported
torchvision models, and per-stage profiles from torch.profiler."""
import argparse
import json
import os
import re
import sys
import time

import torch

# name, cin, cout, hw, k, stride, pad, occurrences in ResNet-50 (batch 1, 224x224). Keep in sync with
# bench/conv_shapes.h.
RESNET50_CONVS = [
    ("stem_7x7s2", 3, 64, 224, 7, 2, 3, 1),
    ("l1_1x1_64to64", 64, 64, 56, 1, 1, 0, 1),
    ("l1_3x3_64", 64, 64, 56, 3, 1, 1, 3),
    ("l1_1x1_64to256", 64, 256, 56, 1, 1, 0, 4),
    ("l1_1x1_256to64", 256, 64, 56, 1, 1, 0, 2),
    ("l2_1x1_256to128", 256, 128, 56, 1, 1, 0, 1),
    ("l2_3x3s2_128", 128, 128, 56, 3, 2, 1, 1),
    ("l2_1x1_128to512", 128, 512, 28, 1, 1, 0, 4),
    ("l2_down_1x1s2", 256, 512, 56, 1, 2, 0, 1),
    ("l2_1x1_512to128", 512, 128, 28, 1, 1, 0, 3),
    ("l2_3x3_128", 128, 128, 28, 3, 1, 1, 3),
    ("l3_1x1_512to256", 512, 256, 28, 1, 1, 0, 1),
    ("l3_3x3s2_256", 256, 256, 28, 3, 2, 1, 1),
    ("l3_1x1_256to1024", 256, 1024, 14, 1, 1, 0, 6),
    ("l3_down_1x1s2", 512, 1024, 28, 1, 2, 0, 1),
    ("l3_1x1_1024to256", 1024, 256, 14, 1, 1, 0, 5),
    ("l3_3x3_256", 256, 256, 14, 3, 1, 1, 5),
    ("l4_1x1_1024to512", 1024, 512, 14, 1, 1, 0, 1),
    ("l4_3x3s2_512", 512, 512, 14, 3, 2, 1, 1),
    ("l4_1x1_512to2048", 512, 2048, 7, 1, 1, 0, 3),
    ("l4_down_1x1s2", 1024, 2048, 14, 1, 2, 0, 1),
    ("l4_1x1_2048to512", 2048, 512, 7, 1, 1, 0, 2),
    ("l4_3x3_512", 512, 512, 7, 3, 1, 1, 2),
]


def setup(description, cpu_threads=2, default_device="cpu", add_args=None):
    """Parses --device and --filter (plus what add_args(parser) adds); returns (args, torch.device).
    CPU runs use `cpu_threads` torch threads (None: leave torch's choice), as our benches use two cores."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--device", default=default_device, choices=["cpu", "cuda"])
    ap.add_argument("--filter", default="", help="regex on the case names")
    ap.add_argument("--profile", action="store_true", help="also print per-stage profiles where a case has stages")
    if add_args:
        add_args(ap)
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"{os.path.basename(sys.argv[0])}: CUDA requested but torch sees no GPU")
    if dev.type == "cpu" and cpu_threads is not None:
        torch.set_num_threads(cpu_threads)
    if dev.type == "cuda":
        # like for like: ours is strict FP32 unless asked otherwise, and torch turns TF32 on for cuDNN by
        # default (a reference that measures TF32 turns it back on for its own cases)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return args, dev


def wanted(args, *names):
    """Whether --filter selects any of the case names (no filter selects all)."""
    return not args.filter or any(re.search(args.filter, n) for n in names)


def timed_ms(f, dev):
    """Wall time of one call in ms; on the GPU the queue is drained before and after."""
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    f()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) * 1e3


def median_ms(f, dev, warmup=2, reps=9):
    """Median of `reps` timed calls after `warmup` untimed ones. Either count may be a function of the
    first warm-up call's time, so slow cases get fewer repetitions."""
    first = timed_ms(f, dev)
    for _ in range(max((warmup(first) if callable(warmup) else warmup) - 1, 0)):
        f()
    n = reps(first) if callable(reps) else reps
    times = sorted(timed_ms(f, dev) for _ in range(n))
    return times[len(times) // 2]


def emit(bench, ref, ref_ms, **extra):
    """One result line for scripts/bench: {"bench", "ref", "ref_ms", ...extra}."""
    print(json.dumps({"bench": bench, "ref": ref, "ref_ms": ref_ms, **extra}), flush=True)


def peer():
    """(peer key, label): "torch1" for Debian's torch 1.x (the oracle; a third column in the tables), "torch2" for
    PyTorch 2.x (scripts/setup --bench installs it in .venv-bench)."""
    major = int(torch.__version__.split(".")[0])
    return ("torch2" if major >= 2 else "torch1"), f"torch {torch.__version__.split('+')[0]}"


def has_onnxruntime():
    try:
        import onnxruntime  # noqa: F401
        import onnx  # noqa: F401
    except ImportError:
        return False
    return peer()[0] == "torch2"


def onnx_session(model, example_args, path, stale_after=None, threads=2):
    """An ONNX Runtime CPU session (`threads` intra-op threads, one inter-op) of `model` exported to `path` with
    torch's TorchScript-based exporter (opset 17; it handles torchvision's detection models), re-exported when
    the file is missing or older than the file `stale_after`. Returns (session, label)."""
    import onnxruntime as ort
    fresh = os.path.exists(path) and (stale_after is None or os.path.getmtime(path) >= os.path.getmtime(stale_after))
    if not fresh:
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(model, example_args, tmp, opset_version=17, dynamo=False)
        os.replace(tmp, path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # the exported mask-pasting loop warns on every iteration about its shapes
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess, f"onnxruntime {ort.__version__}"


def stage_profile(run, stages, methods=(), functions=()):
    """Per-stage CPU times (ms) of one call of run() under torch.profiler. stages: {name: module or list of
    modules}, each module's forward wrapped in record_function("stage.<name>"); methods: (name, object,
    attribute) bound methods wrapped the same way; functions: (name, python module, attribute) module-level
    functions. Times are exclusive (a nested stage's time is its own), and each backward node's time goes to
    "backward.<stage>" of the forward op that created it (linked by the autograd sequence number)."""
    from torch.profiler import ProfilerActivity, profile, record_function

    def wrap(fn, name):
        def wrapped(*a, **k):
            with record_function("stage." + name):
                return fn(*a, **k)
        return wrapped

    undo = []
    for name, mods in stages.items():
        for m in (mods if isinstance(mods, (list, tuple)) else [mods]):
            undo.append((m, "forward", m.__dict__.get("forward")))
            m.forward = wrap(m.forward, name)
    for name, obj, attr in list(methods) + list(functions):
        undo.append((obj, attr, getattr(obj, attr)))
        setattr(obj, attr, wrap(getattr(obj, attr), name))
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
    finally:
        for obj, attr, old in reversed(undo):
            if attr == "forward" and old is None:
                del obj.forward
            else:
                setattr(obj, attr, old)

    def stage_of(e):
        p = e
        while p is not None:
            if p.name.startswith("stage."):
                return p
            p = p.cpu_parent
        return None

    out, seq_stage = {}, {}
    events = prof.events()
    for e in events:
        if e.name.startswith("stage."):
            name = e.name[6:]
            out[name] = out.get(name, 0.0) + e.cpu_time_total / 1e3
            outer = stage_of(e.cpu_parent) if e.cpu_parent is not None else None
            if outer is not None:
                out[outer.name[6:]] = out.get(outer.name[6:], 0.0) - e.cpu_time_total / 1e3
        elif getattr(e, "sequence_nr", -1) >= 0 and not e.name.startswith("autograd::engine"):
            st = stage_of(e)
            if st is not None:
                seq_stage.setdefault(e.sequence_nr, st.name[6:])
    for e in events:
        if e.name.startswith("autograd::engine::evaluate_function:"):
            key = "backward." + seq_stage.get(getattr(e, "sequence_nr", -1), "other")
            out[key] = out.get(key, 0.0) + e.cpu_time_total / 1e3
    return out


def emit_profile(bench, impl, stages_ms):
    """One {"profile", "impl", "stage", "ms"} line per stage (scripts/bench puts them beside ours)."""
    for stage, ms in stages_ms.items():
        print(json.dumps({"profile": bench, "impl": impl, "stage": stage, "ms": round(ms, 3)}), flush=True)
