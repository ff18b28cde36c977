"""Reference for bench/resnet.cpp: torchvision's resnet50 forward at 224x224, batch 1, eval, no grad; under
PyTorch 2.x (.venv-bench) also the same model exported to ONNX and run in ONNX Runtime (2 threads)."""
import os
import tempfile

import torch
import torchvision

from ref_util import emit, has_onnxruntime, median_ms, onnx_session, peer, setup, wanted

args, dev = setup(__doc__.splitlines()[0])
PEER, LABEL = peer()
model = torchvision.models.resnet50(weights=None).eval().to(dev)

with torch.no_grad():
    for batch in [1]:
        name = f"resnet50_forward_224_b{batch}"
        if not wanted(args, name):
            continue
        x = torch.randn(batch, 3, 224, 224, device=dev)
        ms = median_ms(lambda: model(x).cpu(), dev, warmup=2, reps=9)
        emit(name, f"{LABEL} torchvision {torchvision.__version__.split('+')[0]}", ms, peer=PEER)
        if dev.type == "cpu" and has_onnxruntime():
            onnx_path = os.path.join(tempfile.gettempdir(), f"mrc_bench_resnet50_b{batch}.onnx")
            sess, ort_label = onnx_session(model, (x,), onnx_path)
            feed = {sess.get_inputs()[0].name: x.numpy()}
            ms = median_ms(lambda: sess.run(None, feed), dev, warmup=2, reps=9)
            emit(name, ort_label, ms, peer="ort")
