// Pooling and resampling ops: argument checks, output shapes, dispatch and backward.
#include "kernels/pool/pool.h"

#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;  // the last window must start inside input or left padding
  return out;
}

namespace {
void check_nchw(const char* op, const Tensor& x) {
  check_defined(op, x, "input");
  if (x.dim() != 4) throw_arg(op, "input must be 4-D [N, C, H, W], got shape " + shape_str(x.shape()));
  if (!x.is_floating_point()) throw_arg(op, std::string("input must be floating point, got ") + dtype_name(x.dtype()));
}
}  // namespace

Tensor max_pool2d(const Tensor& x, Int2 kernel, Int2 stride, Int2 padding, Int2 dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_nchw(op, x);
  Pool2dParams p{kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w, dilation.h, dilation.w, ceil_mode};
  if (p.kh < 1 || p.kw < 1 || p.sh < 1 || p.sw < 1 || p.dh < 1 || p.dw < 1)
    throw_arg(op, "kernel, stride and dilation must be >= 1");
  if (p.ph < 0 || p.pw < 0 || 2 * p.ph > p.kh || 2 * p.pw > p.kw) throw_arg(op, "padding must be in [0, kernel / 2]");
  const int64_t oh = pool_out_size(x.size(2), p.kh, p.sh, p.ph, p.dh, ceil_mode);
  const int64_t ow = pool_out_size(x.size(3), p.kw, p.sw, p.pw, p.dw, ceil_mode);
  if (oh < 1 || ow < 1) throw_arg(op, "input " + shape_str(x.shape()) + " is too small for the kernel");
  const Tensor xc = x.detach().contiguous();
  Tensor out = Tensor::empty({x.size(0), x.size(1), oh, ow}, x.dtype(), x.device());
  // indices only for backward (the CUDA kernel always writes them)
  const bool need_idx = x.is_cuda() || needs_grad({&x});
  Tensor idx = need_idx ? Tensor::empty(out.shape(), DType::Int64, x.device()) : Tensor();
  if (out.numel()) MRC_DISPATCH_DEVICE(x, max_pool2d_forward, xc, p, out, idx);
  if (!need_idx) return out;
  const Shape in_shape = x.shape();
  SavedTensor si(idx);
  return record(out, {x}, op, [si, in_shape, p](const Tensor& g) -> std::vector<Tensor> {
    Tensor gx = Tensor::zeros(in_shape, g.dtype(), g.device());
    if (g.numel()) MRC_DISPATCH_DEVICE(g, max_pool2d_backward, g.contiguous(), si.get(), p, gx);
    return {gx};
  });
}

Tensor upsample_nearest2d(const Tensor& x, int64_t sh, int64_t sw) {
  check_nchw("upsample_nearest2d", x);
  if (sh < 1 || sw < 1) throw_arg("upsample_nearest2d", "scale factors must be integers >= 1");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (x.is_cuda())  // each pixel repeated as a (sh, sw) block: a broadcast view, made contiguous
    return x.reshape({n, c, h, 1, w, 1}).expand({n, c, h, sh, w, sw}).contiguous().view({n, c, h * sh, w * sw});
  Tensor out = Tensor::empty({n, c, h * sh, w * sw}, x.dtype());
  if (out.numel()) cpu::upsample_nearest_forward(x.detach().contiguous(), sh, sw, out);
  const Shape in_shape = x.shape();
  return record(out, {x}, "upsample_nearest2d", [in_shape, sh, sw](const Tensor& g) -> std::vector<Tensor> {
    Tensor gx = Tensor::empty(in_shape, g.dtype());
    if (gx.numel()) cpu::upsample_nearest_backward(g.contiguous(), sh, sw, gx);
    return {gx};
  });
}

Tensor interpolate_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  const char* op = "interpolate_bilinear";
  check_nchw(op, x);
  if (out_h < 1 || out_w < 1) throw_arg(op, "output size must be positive");
  const Tensor xc = x.detach().contiguous();
  Tensor out = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype(), x.device());
  if (out.numel() && x.numel()) MRC_DISPATCH_DEVICE(x, bilinear_forward, xc, align_corners, out);
  const Shape in_shape = x.shape();
  return record(out, {x}, op, [in_shape, align_corners](const Tensor& g) -> std::vector<Tensor> {
    Tensor gx = Tensor::zeros(in_shape, g.dtype(), g.device());
    if (g.numel() && gx.numel()) MRC_DISPATCH_DEVICE(g, bilinear_backward, g.contiguous(), align_corners, gx);
    return {gx};
  });
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  const char* op = "adaptive_avg_pool2d";
  check_nchw(op, x);
  if (out_h < 1 || out_w < 1) throw_arg(op, "output size must be positive");
  if (x.size(2) < 1 || x.size(3) < 1) throw_arg(op, "input has an empty spatial size");
  const Tensor xc = x.detach().contiguous();
  Tensor out = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype(), x.device());
  if (out.numel()) MRC_DISPATCH_DEVICE(x, adaptive_avg_forward, xc, out);
  const Shape in_shape = x.shape();
  return record(out, {x}, op, [in_shape](const Tensor& g) -> std::vector<Tensor> {
    Tensor gx = Tensor::zeros(in_shape, g.dtype(), g.device());
    if (g.numel()) MRC_DISPATCH_DEVICE(g, adaptive_avg_backward, g.contiguous(), gx);
    return {gx};
  });
}

}  // namespace mrc
