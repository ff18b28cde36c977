// Multi-tensor optimizer updates: one launch updates a list of tensors (the per-parameter path launches a
// few elementwise kernels per tensor, several hundred per step for Mask R-CNN). Behind a switch, off by
// default until a GPU run has verified it against the per-parameter path (tests/cuda/test_optim_cuda.cpp).
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "kernels/host_device.h"

namespace mrc::kernels {

inline std::atomic<bool>& multi_tensor_optim_flag() {
  static std::atomic<bool> on{false};
  return on;
}
// SGD on CUDA float32 parameters takes the multi-tensor kernel when on; other cases are unaffected.
inline void set_multi_tensor_optim(bool on) { multi_tensor_optim_flag() = on; }
inline bool multi_tensor_optim() { return multi_tensor_optim_flag(); }

// torch.optim.SGD's step: d = grad + weight_decay * param; with momentum, buf = first ? d :
// momentum * buf + (1 - dampening) * d and d = nesterov ? d + momentum * buf : buf; param += (-lr) * d.
// The factors are the per-parameter path's, rounded to float on the host.
struct SgdHyper {
  float neg_lr = 0, momentum = 0, one_minus_dampening = 1, weight_decay = 0;
  bool nesterov = false;
};

// One tensor of the list: contiguous float32 device buffers of n elements (momentum_buffer null without
// momentum); first: the momentum buffer is new and takes d itself.
struct SgdTensor {
  float* param = nullptr;
  const float* grad = nullptr;
  float* momentum_buffer = nullptr;
  int64_t n = 0;
  bool first = false;
};

#if defined(MRC_WITH_CUDA)
void sgd_multi_tensor_cuda(const std::vector<SgdTensor>& tensors, const SgdHyper& h, GpuStream stream);
#endif

}  // namespace mrc::kernels
