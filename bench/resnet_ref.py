"""Reference for bench/resnet.cpp: torchvision's resnet50 forward at 224x224, batch 1, eval, no grad."""
import torch
import torchvision

from ref_util import emit, median_ms, setup, wanted

args, dev = setup(__doc__.splitlines()[0])
model = torchvision.models.resnet50(weights=None).eval().to(dev)

with torch.no_grad():
    for batch in [1]:
        name = f"resnet50_forward_224_b{batch}"
        if not wanted(args, name):
            continue
        x = torch.randn(batch, 3, 224, 224, device=dev)
        ms = median_ms(lambda: model(x).cpu(), dev, warmup=2, reps=9)
        emit(name, f"torchvision {torchvision.__version__}", ms)
