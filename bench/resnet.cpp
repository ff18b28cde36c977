// ResNet-50 forward at 224x224, batch 1 (inference: eval mode, no grad), against torchvision's
// resnet50 measured by bench/resnet_ref.py in the same run.
#include "bench_util.h"
#include "kernels/ops.h"
#include "models/resnet.h"

using namespace mrc;

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv);
  const Device dev = Device::parse(args.device);
  ResNet model({50, NormKind::BatchNorm, 32, 1000, 0});
  model.eval();
  model.to(dev);
  NoGradGuard ng;
  for (int64_t batch : {1}) {
    const std::string name = "resnet50_forward_224_b" + std::to_string(batch);
    if (!args.selected(name)) continue;
    const Tensor x = Tensor::randn({batch, 3, 224, 224}).to(dev);
    const double ms = bench::median_ms([&] { model.forward(x).to_vector<float>(); }, 2, 9);
    const double gflops = 2 * 4.09e9 * double(batch) / (ms * 1e6);  // 4.09 GMACs per 224x224 image
    bench::print_case(name, args.device, ms, "\"gflops\": " + std::to_string(gflops));
  }
  return 0;
}
