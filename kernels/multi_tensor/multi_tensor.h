// Multi-tensor optimizer updates: one launch updates a list of tensors (the per-parameter path launches a
// few elementwise kernels per tensor, several hundred per step for Mask R-CNN). Behind a switch, off by
// default until a GPU run has verified it against the per-parameter path (tests/cuda/test_optim_cuda.cpp).
// Adam's per-element step is written once (adam_element, host and device); its CPU twin runs the same
// loop on the host and is what test_optim compares with the per-parameter Adam without a GPU.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/host_device.h"

namespace mrc::kernels {

inline std::atomic<bool>& multi_tensor_optim_flag() {
  static std::atomic<bool> on{false};
  return on;
}
// SGD and Adam/AdamW on CUDA float32 parameters take the multi-tensor kernels when on; Adam/AdamW on CPU
// float32 parameters take adam_multi_tensor_cpu (the kernel's twin); other cases are unaffected.
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

// torch.optim.Adam / AdamW (single-tensor path) for one element. Group-wide factors here, the
// per-tensor bias corrections (each parameter counts its own steps) in AdamTensor.
struct AdamHyper {
  float beta1 = 0.9f, one_minus_beta1 = 0.1f, beta2 = 0.999f, one_minus_beta2 = 0.001f, eps = 1e-8f;
  float weight_decay = 0;    // Adam: added to the gradient as weight_decay * param
  float decay_factor = 1;    // AdamW: param *= 1 - lr * weight_decay first (1: none)
  bool decoupled = false, amsgrad = false;
};

// One tensor of the list: contiguous float32 buffers of n elements; max_exp_avg_sq null without AMSGrad.
// max_first: the AMSGrad maximum is new and starts from the current second moment.
struct AdamTensor {
  float* param = nullptr;
  const float* grad = nullptr;
  float* exp_avg = nullptr;
  float* exp_avg_sq = nullptr;
  float* max_exp_avg_sq = nullptr;
  int64_t n = 0;
  float neg_step_size = 0;   // -lr / (1 - beta1^step)
  float inv_sqrt_bc2 = 1;    // 1 / sqrt(1 - beta2^step)
  bool max_first = false;
};

// Element i of t: each product rounded on its own (mul_rn), in the per-parameter path's order and grouping
// (addcmul: x + (s * a) * b, addcdiv: x + (s * a) / b), so the CPU twin equals it bit for bit.
MRC_HOST_DEVICE inline void adam_element(const AdamTensor& t, const AdamHyper& h, int64_t i) {
  float p = t.param[i], g = t.grad[i];
  if (h.decoupled) p = mul_rn(p, h.decay_factor);
  else if (h.weight_decay != 0.f) g = g + mul_rn(h.weight_decay, p);
  const float m = mul_rn(t.exp_avg[i], h.beta1) + mul_rn(h.one_minus_beta1, g);
  const float v = mul_rn(t.exp_avg_sq[i], h.beta2) + mul_rn(mul_rn(h.one_minus_beta2, g), g);
  t.exp_avg[i] = m;
  t.exp_avg_sq[i] = v;
  float second = v;
  if (t.max_exp_avg_sq) {
    const float old = t.max_exp_avg_sq[i];
    second = t.max_first ? v : (old > v ? old : v);
    t.max_exp_avg_sq[i] = second;
  }
  const float denom = mul_rn(sqrtf(second), t.inv_sqrt_bc2) + h.eps;
  t.param[i] = p + mul_rn(t.neg_step_size, m) / denom;
}

// The CPU twin of adam_multi_tensor_cuda: the same element step over every tensor of the list.
void adam_multi_tensor_cpu(const std::vector<AdamTensor>& tensors, const AdamHyper& h);

#if defined(MRC_WITH_CUDA)
void sgd_multi_tensor_cuda(const std::vector<SgdTensor>& tensors, const SgdHyper& h, GpuStream stream);
void adam_multi_tensor_cuda(const std::vector<AdamTensor>& tensors, const AdamHyper& h, GpuStream stream);
#endif

}  // namespace mrc::kernels
