// The GPU fast paths by name, for the apps' --gpu-switches option: each switch defaults to the plain path
// until a GPU run has verified the fast one (README "GPU switches" lists them with their checks).
//   multi_tensor_optim       SGD/Adam/AdamW in one pass over all parameters (CUDA kernel; Adam's CPU twin)
//   device_samplers          training samplers and RPN losses without host reads
//   cuda_graphs              inference trunk (backbone + FPN + RPN head) replayed as a CUDA graph
//   fused_conv_epilogue      conv + bias + residual + ReLU in cuDNN's fused call
//   cudnn_benchmark          cuDNN algorithm search (cudnnFind) per conv shape, cached
//   roi_align_deterministic  ROIAlign's CUDA backward in a fixed order (same bits run to run; slower)
#pragma once
#include <string>
#include <vector>

#include "tensor/device.h"

namespace mrc::train {

struct GpuSwitch {
  const char* name;
  bool cuda_only;  // acts on CUDA work only: refused for a CPU device and in a build without CUDA
  void (*set)(bool on);
};

const std::vector<GpuSwitch>& gpu_switches();

// Turns on the comma-separated switches (empty: none) for work on `device`. Throws std::invalid_argument
// naming `where` for an unknown name (listing the known ones) or a CUDA-only switch for a CPU device.
void enable_gpu_switches(const std::string& list, Device device, const std::string& where = "--gpu-switches");
// Every switch back to its default (off).
void reset_gpu_switches();

}  // namespace mrc::train
