// The apps' --gpu-switches (train/gpu_switches.h): every switch off by default, names turned on by list,
// unknown names and CUDA-only switches on the CPU refused with a message naming the option, nothing switched
// when the list has an error.
#include <doctest/doctest.h>

#include "kernels/conv/conv_fused.h"
#include "kernels/multi_tensor/multi_tensor.h"
#include "kernels/roi_align/roi_align.h"
#include "models/maskrcnn/common.h"
#include "models/maskrcnn/graphed_trunk.h"
#include "train/gpu_switches.h"

using namespace mrc;

TEST_CASE("GPU switches: off by default, on by name, refused when unknown or CUDA-only on the CPU") {
  train::reset_gpu_switches();
  CHECK(!kernels::multi_tensor_optim());
  CHECK(!maskrcnn::device_samplers());
  CHECK(!maskrcnn::cuda_graphs());
  CHECK(!fused_conv_epilogue_cuda());
  CHECK(!kernels::roi_align_deterministic());

  train::enable_gpu_switches("", Device::cpu());  // none
  CHECK(!kernels::multi_tensor_optim());
  train::enable_gpu_switches("multi_tensor_optim,device_samplers", Device::cpu());
  CHECK(kernels::multi_tensor_optim());
  CHECK(maskrcnn::device_samplers());
  train::reset_gpu_switches();
  CHECK(!kernels::multi_tensor_optim());
  CHECK(!maskrcnn::device_samplers());

  CHECK_THROWS_WITH_AS(train::enable_gpu_switches("device_samplers,warp_speed", Device::cpu()),
                       doctest::Contains("--gpu-switches: unknown switch 'warp_speed' (expected a comma-separated list of: "
                                         "multi_tensor_optim, device_samplers, cuda_graphs"),
                       std::invalid_argument);
  CHECK(!maskrcnn::device_samplers());  // nothing switched by a list with an error
  for (const char* cuda_only : {"cuda_graphs", "fused_conv_epilogue", "cudnn_benchmark", "roi_align_deterministic"}) {
    CAPTURE(cuda_only);
    const std::string expected = std::string("PRED: ") + cuda_only + " acts on CUDA work only; the device is cpu";
    CHECK_THROWS_WITH_AS(train::enable_gpu_switches(cuda_only, Device::cpu(), "PRED"), doctest::Contains(expected.c_str()),
                         std::invalid_argument);
  }
  CHECK(!maskrcnn::cuda_graphs());
  CHECK(train::gpu_switches().size() == 6);
}
