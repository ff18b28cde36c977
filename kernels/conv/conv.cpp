// conv2d and conv_transpose2d: argument checks, output shapes, device dispatch and the backward of
// each. A transposed convolution is the input-gradient of a convolution, so both ops run on the
// backends' three conv2d entry points with the roles of input and output swapped.
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_fused.h"

#include "kernels/elementwise/elementwise.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

namespace {

std::string pair_str(Int2 v) {
  std::string s = std::to_string(v.h);
  s.append(", ").append(std::to_string(v.w));
  return "(" + s + ")";
}

Conv2dParams make_params(const char* op, Int2 stride, Int2 padding, Int2 dilation, int64_t groups) {
  if (stride.h < 1 || stride.w < 1) throw_arg(op, "stride must be >= 1, got " + pair_str(stride));
  if (padding.h < 0 || padding.w < 0) throw_arg(op, "padding must be >= 0, got " + pair_str(padding));
  if (dilation.h < 1 || dilation.w < 1) throw_arg(op, "dilation must be >= 1, got " + pair_str(dilation));
  if (groups < 1) throw_arg(op, "groups must be >= 1, got " + std::to_string(groups));
  Conv2dParams p;
  p.stride_h = stride.h;
  p.stride_w = stride.w;
  p.pad_h = padding.h;
  p.pad_w = padding.w;
  p.dil_h = dilation.h;
  p.dil_w = dilation.w;
  p.groups = groups;
  return p;
}

// Checks shared by both ops: ranks, dtypes, devices, and the bias.
void check_common(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, int64_t bias_size) {
  check_defined(op, x, "input");
  check_defined(op, w, "weight");
  if (x.dim() != 4) throw_arg(op, "input must be 4-D [N, C, H, W], got shape " + shape_str(x.shape()));
  if (w.dim() != 4) throw_arg(op, "weight must be 4-D, got shape " + shape_str(w.shape()));
  if (!x.is_floating_point()) throw_arg(op, std::string("input must be floating point, got ") + dtype_name(x.dtype()));
  check_same_dtype(op, x, w);
  check_same_device(op, x, w);
  if (b.defined()) {
    check_same_dtype(op, x, b);
    check_same_device(op, x, b);
    if (b.dim() != 1 || b.size(0) != bias_size)
      throw_arg(op, "bias must have shape [" + std::to_string(bias_size) + "], got " + shape_str(b.shape()));
  }
}

bool wants(const Tensor& t) { return t.defined() && t.requires_grad() && grad_enabled(); }

}  // namespace

namespace {

// conv2d with an optional epilogue (+ residual, then ReLU) that the CPU kernel fuses; `op` names errors.
Tensor conv2d_impl(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, Int2 stride, Int2 padding,
                   Int2 dilation, int64_t groups, const Tensor& residual, bool relu_out) {
  const Conv2dParams p = make_params(op, stride, padding, dilation, groups);
  check_common(op, x, w, b, w.defined() && w.dim() == 4 ? w.size(0) : 0);
  const int64_t n = x.size(0), c_in = x.size(1), c_out = w.size(0);
  if (c_in % groups != 0)
    throw_arg(op, "groups (" + std::to_string(groups) + ") must divide the input channels (" + std::to_string(c_in) + ")");
  if (c_out % groups != 0)
    throw_arg(op, "groups (" + std::to_string(groups) + ") must divide the output channels (weight dim 0 = " +
                      std::to_string(c_out) + ")");
  if (w.size(1) != c_in / groups)
    throw_arg(op, "weight " + shape_str(w.shape()) + " expects " + std::to_string(w.size(1) * groups) +
                      " input channels, but input " + shape_str(x.shape()) + " has " + std::to_string(c_in));
  const int64_t oh = conv_out_size(x.size(2), w.size(2), p.stride_h, p.pad_h, p.dil_h);
  const int64_t ow = conv_out_size(x.size(3), w.size(3), p.stride_w, p.pad_w, p.dil_w);
  if (oh < 1 || ow < 1)
    throw_arg(op, "input " + shape_str(x.shape()) + " is smaller than the dilated kernel " + shape_str(w.shape()) +
                      " with padding " + pair_str(padding));

  const bool fused = residual.defined() || relu_out;
  if (residual.defined()) {
    check_same_dtype(op, x, residual);
    check_same_device(op, x, residual);
    if (residual.shape() != Shape{n, c_out, oh, ow})
      throw_arg(op, "residual must have the output's shape " + shape_str(Shape{n, c_out, oh, ow}) + ", got " +
                        shape_str(residual.shape()));
  }
  const Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  const Tensor bc = b.defined() ? b.detach().contiguous() : Tensor();
  const Tensor rc = residual.defined() ? residual.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty({n, c_out, oh, ow}, x.dtype(), x.device());
  if (fused && x.is_cuda()) {
    bool done = false;
#ifdef MRC_WITH_CUDA
    done = out.numel() > 0 && fused_conv_epilogue_cuda() && cuda::conv2d_forward_fused(xc, wc, bc, p, out, rc, relu_out);
#endif
    if (!done) {  // the same math composed
      Tensor y = conv2d_impl(op, x, w, b, stride, padding, dilation, groups, Tensor(), false);
      if (residual.defined()) y = add(y, residual);
      return relu_out ? relu(y) : y;
    }
  } else if (out.numel() > 0) {
    if (fused)
      cpu::conv2d_forward_fused(xc, wc, bc, p, out, rc, relu_out);
    else
      MRC_DISPATCH_DEVICE(x, conv2d_forward, xc, wc, bc, p, out);
  }

  const bool need_x = wants(x), need_w = wants(w), need_b = wants(b), need_r = wants(residual);
  if (!(need_x || need_w || need_b || need_r)) return out;
  SavedTensor sx(need_w ? xc : Tensor()), sw(need_x ? wc : Tensor()), so(relu_out ? out : Tensor());
  const Shape x_shape = x.shape(), w_shape = w.shape();
  return record(out, {x, w, b, residual}, op,
                [=](const Tensor& g_in) -> std::vector<Tensor> {
                  // through the ReLU first; the residual's gradient is then the output's
                  const Tensor g = relu_out ? relu_backward(g_in, so.get()).contiguous() : g_in.contiguous();
                  Tensor gx, gw, gb;
                  if (need_x) {
                    gx = Tensor::empty(x_shape, g.dtype(), g.device());
                    if (gx.numel() > 0) MRC_DISPATCH_DEVICE(g, conv2d_backward_input, g, sw.get(), p, gx);
                  }
                  if (need_w) {
                    gw = Tensor::empty(w_shape, g.dtype(), g.device());
                    MRC_DISPATCH_DEVICE(g, conv2d_backward_weight, sx.get(), g, p, gw);
                  }
                  if (need_b) {
                    gb = Tensor::empty({w_shape[0]}, g.dtype(), g.device());
                    MRC_DISPATCH_DEVICE(g, conv2d_backward_bias, g, gb);
                  }
                  return {gx, gw, gb, need_r ? g : Tensor()};
                });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Int2 stride, Int2 padding, Int2 dilation,
              int64_t groups) {
  return conv2d_impl("conv2d", x, w, b, stride, padding, dilation, groups, Tensor(), false);
}

Tensor conv2d_fused(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual, bool relu_out,
                    Int2 stride, Int2 padding, Int2 dilation, int64_t groups) {
  return conv2d_impl("conv2d_fused", x, w, b, stride, padding, dilation, groups, residual, relu_out);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Int2 stride, Int2 padding,
                        Int2 output_padding, int64_t groups, Int2 dilation) {
  const char* op = "conv_transpose2d";
  const Conv2dParams p = make_params(op, stride, padding, dilation, groups);
  check_common(op, x, w, b, w.defined() && w.dim() == 4 ? w.size(1) * groups : 0);
  const int64_t n = x.size(0), c_in = x.size(1), c_out = w.size(1) * groups;
  if (c_in % groups != 0)
    throw_arg(op, "groups (" + std::to_string(groups) + ") must divide the input channels (" + std::to_string(c_in) + ")");
  if (w.size(0) != c_in)
    throw_arg(op, "weight " + shape_str(w.shape()) + " expects " + std::to_string(w.size(0)) +
                      " input channels (dim 0), but input " + shape_str(x.shape()) + " has " + std::to_string(c_in));
  if (output_padding.h < 0 || output_padding.w < 0 ||
      (output_padding.h >= p.stride_h && output_padding.h >= p.dil_h) ||
      (output_padding.w >= p.stride_w && output_padding.w >= p.dil_w))
    throw_arg(op, "output_padding " + pair_str(output_padding) + " must be >= 0 and smaller than stride " +
                      pair_str(stride) + " or dilation " + pair_str(dilation));
  const int64_t oh = (x.size(2) - 1) * p.stride_h - 2 * p.pad_h + p.dil_h * (w.size(2) - 1) + output_padding.h + 1;
  const int64_t ow = (x.size(3) - 1) * p.stride_w - 2 * p.pad_w + p.dil_w * (w.size(3) - 1) + output_padding.w + 1;
  if (oh < 1 || ow < 1)
    throw_arg(op, "output size (" + std::to_string(oh) + ", " + std::to_string(ow) + ") for input " +
                      shape_str(x.shape()) + " is not positive; reduce padding " + pair_str(padding));

  const Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  Tensor out = Tensor::empty({n, c_out, oh, ow}, x.dtype(), x.device());
  if (out.numel() > 0) {
    // the transposed conv is conv2d's input gradient with x in the role of the output gradient
    MRC_DISPATCH_DEVICE(x, conv2d_backward_input, xc, wc, p, out);
    if (b.defined()) {
      NoGradGuard ng;
      out.add_(b.detach().view({1, c_out, 1, 1}));
    }
  }

  const bool need_x = wants(x), need_w = wants(w), need_b = wants(b);
  if (!(need_x || need_w || need_b)) return out;
  SavedTensor sx(need_w ? xc : Tensor()), sw(need_x ? wc : Tensor());
  const Shape x_shape = x.shape(), w_shape = w.shape();
  return record(out, {x, w, b}, op,
                [=](const Tensor& g_in) -> std::vector<Tensor> {
                  const Tensor g = g_in.contiguous();
                  Tensor gx, gw, gb;
                  if (need_x) {  // a plain convolution of the output gradient
                    gx = Tensor::empty(x_shape, g.dtype(), g.device());
                    if (gx.numel() > 0) MRC_DISPATCH_DEVICE(g, conv2d_forward, g, sw.get(), Tensor(), p, gx);
                  }
                  if (need_w) {  // conv2d's weight gradient with input g and output gradient x
                    gw = Tensor::empty(w_shape, g.dtype(), g.device());
                    MRC_DISPATCH_DEVICE(g, conv2d_backward_weight, g, sx.get(), p, gw);
                  }
                  if (need_b) {
                    gb = Tensor::empty({c_out}, g.dtype(), g.device());
                    MRC_DISPATCH_DEVICE(g, conv2d_backward_bias, g, gb);
                  }
                  return {gx, gw, gb};
                });
}

}  // namespace mrc
