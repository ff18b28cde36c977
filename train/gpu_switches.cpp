// The registry of GPU switches (see gpu_switches.h): names to the setters of each layer.
#include "train/gpu_switches.h"

#include <stdexcept>

#include "kernels/conv/conv_fused.h"
#include "kernels/multi_tensor/multi_tensor.h"
#include "kernels/roi_align/roi_align.h"
#include "models/maskrcnn/common.h"
#include "models/maskrcnn/graphed_trunk.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc::train {

namespace {

#ifdef MRC_WITH_CUDA
void set_cudnn_benchmark(bool on) { cuda::set_cudnn_benchmark(on); }
#else
void set_cudnn_benchmark(bool) {}
#endif

}  // namespace

const std::vector<GpuSwitch>& gpu_switches() {
  static const std::vector<GpuSwitch> all = {
      {"multi_tensor_optim", false, kernels::set_multi_tensor_optim},
      {"device_samplers", false, maskrcnn::set_device_samplers},
      {"cuda_graphs", true, maskrcnn::set_cuda_graphs},
      {"fused_conv_epilogue", true, set_fused_conv_epilogue_cuda},
      {"cudnn_benchmark", true, set_cudnn_benchmark},
      {"roi_align_deterministic", true, kernels::set_roi_align_deterministic},
  };
  return all;
}

void enable_gpu_switches(const std::string& list, Device device, const std::string& where) {
  std::vector<const GpuSwitch*> chosen;
  size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    const size_t comma = list.find(',', start);
    const std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? list.size() + 1 : comma + 1;
    const GpuSwitch* found = nullptr;
    for (const GpuSwitch& s : gpu_switches())
      if (name == s.name) found = &s;
    if (!found) {
      std::string known;
      for (const GpuSwitch& s : gpu_switches()) known += (known.empty() ? "" : ", ") + std::string(s.name);
      throw std::invalid_argument(where + ": unknown switch '" + name + "' (expected a comma-separated list of: " + known + ")");
    }
#ifndef MRC_WITH_CUDA
    if (found->cuda_only)
      throw std::invalid_argument(where + ": " + name + " acts on CUDA work only, and this build has no CUDA");
#endif
    if (found->cuda_only && !device.is_cuda())
      throw std::invalid_argument(where + ": " + name + " acts on CUDA work only; the device is " + device.str());
    chosen.push_back(found);
  }
  for (const GpuSwitch* s : chosen) s->set(true);  // all names valid: only then switch
}

void reset_gpu_switches() {
  for (const GpuSwitch& s : gpu_switches()) s.set(false);
}

}  // namespace mrc::train
