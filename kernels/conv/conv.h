// 2-D convolution and transposed convolution (NCHW), forward and backward, with torch's semantics
// and weight layouts: conv2d weight [C_out, C_in/groups, kH, kW], conv_transpose2d weight
// [C_in, C_out/groups, kH, kW]. The backends expose a few raw entry points (no autograd, contiguous
// NCHW tensors, outputs allocated by the caller); conv_transpose2d is built from the same three.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace mrc {

// An (h, w) pair that also converts from one integer, as torch's `int or tuple` arguments.
struct Int2 {
  int64_t h = 0, w = 0;
  Int2(int64_t v) : h(v), w(v) {}  // NOLINT(google-explicit-constructor): stride=2 reads as torch
  Int2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dil_h = 1, dil_w = 1;
  int64_t groups = 1;
};

// conv2d output size along one dim (may be <= 0 for too-small inputs; the op rejects that).
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

// x [N, C_in, H, W]; w [C_out, C_in/groups, kH, kW]; b [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), Int2 stride = 1, Int2 padding = 0,
              Int2 dilation = 1, int64_t groups = 1);

// x [N, C_in, H, W]; w [C_in, C_out/groups, kH, kW]; b [C_out] or undefined. Output size
// (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1 (output_padding < stride
// or < dilation, as torch requires).
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), Int2 stride = 1,
                        Int2 padding = 0, Int2 output_padding = 0, int64_t groups = 1, Int2 dilation = 1);

namespace cpu {
// out [N, C_out, OH, OW] = conv(x, w) + b (b may be undefined). All tensors contiguous, one dtype.
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& out);
// grad_x (shape of x, overwritten) = d(sum(out * grad_out))/dx.
void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Conv2dParams& p, const Tensor& grad_x);
// grad_w (shape of w, overwritten) = d(sum(out * grad_out))/dw.
void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Conv2dParams& p, const Tensor& grad_w);
// grad_b [C] (overwritten) = sum of grad_out [N, C, H, W] over N, H, W.
void conv2d_backward_bias(const Tensor& grad_out, const Tensor& grad_b);
}  // namespace cpu
#ifdef MRC_WITH_CUDA
namespace cuda {
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& out);
void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Conv2dParams& p, const Tensor& grad_x);
void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Conv2dParams& p, const Tensor& grad_w);
void conv2d_backward_bias(const Tensor& grad_out, const Tensor& grad_b);
// How many conv plans (descriptors + algorithm, by heuristics or, with cudnn_benchmark(), by timing every
// candidate with cudnnFind*Ex) were made so far: one per distinct problem, then cached.
uint64_t conv_plans_chosen();
}  // namespace cuda
#endif

}  // namespace mrc
