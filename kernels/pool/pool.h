// Pooling and resampling (NCHW): max_pool2d, nearest upsampling by integer factors, bilinear
// interpolation (torch 1.13's CPU taps and rounding, pool_math.h), adaptive average pooling.
#pragma once
#include "kernels/conv/conv.h"  // Int2
#include "tensor/tensor.h"

namespace mrc {

struct Pool2dParams {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool ceil_mode = false;
};

// torch.nn.functional.max_pool2d semantics (padding counts as -inf; ceil_mode windows must start inside
// the input or its left padding). The gradient flows to the first maximum of each window.
Tensor max_pool2d(const Tensor& x, Int2 kernel, Int2 stride, Int2 padding = 0, Int2 dilation = 1, bool ceil_mode = false);
// F.interpolate(mode="nearest", scale_factor=(sh, sw)) for integer factors.
Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w);
// F.interpolate(mode="bilinear", size=(out_h, out_w), align_corners=...): float32 results are torch 1.13's
// CPU results bit for bit (pool_math.h); the backward uses the same taps.
Tensor interpolate_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners = false);
// F.adaptive_avg_pool2d(x, (out_h, out_w)).
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode);

namespace cpu {
// x contiguous [N, C, H, W]; out [N, C, OH, OW]; indices int64 (flat h * W + w within the plane).
void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& out, const Tensor& indices);
void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Pool2dParams& p,
                         const Tensor& grad_x);  // grad_x zeroed
void bilinear_forward(const Tensor& x, bool align_corners, const Tensor& out);
void bilinear_backward(const Tensor& grad_out, bool align_corners, const Tensor& grad_x);       // grad_x zeroed
void adaptive_avg_forward(const Tensor& x, const Tensor& out);
void adaptive_avg_backward(const Tensor& grad_out, const Tensor& grad_x);                        // grad_x zeroed
// out [N, C, H * sh, W * sw]; the backward sums each (sh, sw) block into grad_x (overwritten). CUDA
// tensors take the same op as a broadcast view made contiguous.
void upsample_nearest_forward(const Tensor& x, int64_t sh, int64_t sw, const Tensor& out);
void upsample_nearest_backward(const Tensor& grad_out, int64_t sh, int64_t sw, const Tensor& grad_x);
}  // namespace cpu
#ifdef MRC_WITH_CUDA
namespace cuda {
void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& out, const Tensor& indices);
// Gathers, per input element, the outputs whose windows hold it (p: the forward's geometry), in
// output order: the CPU's sums bit for bit, without atomics.
void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Pool2dParams& p, const Tensor& grad_x);
void bilinear_forward(const Tensor& x, bool align_corners, const Tensor& out);
void bilinear_backward(const Tensor& grad_out, bool align_corners, const Tensor& grad_x);
void adaptive_avg_forward(const Tensor& x, const Tensor& out);
void adaptive_avg_backward(const Tensor& grad_out, const Tensor& grad_x);
}  // namespace cuda
#endif

}  // namespace mrc
