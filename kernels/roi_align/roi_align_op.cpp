// roi_align op: argument checks, device dispatch onto the raw kernels, and the backward.
#include "kernels/roi_align/roi_align_op.h"

#include "kernels/roi_align/roi_align.h"
#include "tensor/autograd.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

namespace {

kernels::FeatureShape feature_shape(const Shape& s) { return {s[0], s[1], s[2], s[3]}; }

void forward(const Tensor& x, const Tensor& rois, const kernels::RoiAlignParams& p, const Tensor& out) {
  const auto shape = feature_shape(x.shape());
  if (x.is_cuda()) {
#ifdef MRC_WITH_CUDA
    if (x.dtype() != DType::Float32) throw_arg("roi_align", "the CUDA kernel takes float32");
    const cuda::DeviceGuard device_guard(x.device().index);  // the kernels launch on the current device
    kernels::roi_align_forward_cuda(x.data<float>(), shape, rois.data<float>(), rois.size(0), p, out.data<float>(),
                                    cuda::current_stream(x.device().index));
#endif
    return;
  }
  MRC_DISPATCH_FLOATING(x.dtype(), "roi_align", [&] {
    kernels::roi_align_forward_cpu<scalar_t>(x.data<scalar_t>(), shape, rois.data<scalar_t>(), rois.size(0), p,
                                             out.data<scalar_t>());
  });
}

void backward(const Tensor& g, const Tensor& rois, const kernels::RoiAlignParams& p, const Tensor& gx) {
  const auto shape = feature_shape(gx.shape());
  if (g.is_cuda()) {
#ifdef MRC_WITH_CUDA
    Tensor(gx).zero_();  // the CUDA backward accumulates with atomics
    const cuda::DeviceGuard device_guard(g.device().index);  // the kernels launch on the current device
    kernels::roi_align_backward_cuda(g.data<float>(), rois.data<float>(), rois.size(0), p, shape, gx.data<float>(),
                                     cuda::current_stream(g.device().index));
#endif
    return;
  }
  MRC_DISPATCH_FLOATING(g.dtype(), "roi_align_backward", [&] {
    kernels::roi_align_backward_cpu<scalar_t>(g.data<scalar_t>(), rois.data<scalar_t>(), rois.size(0), p, shape,
                                              gx.data<scalar_t>());
  });
}

}  // namespace

Tensor roi_align(const Tensor& input, const Tensor& rois, int64_t out_h, int64_t out_w, double spatial_scale,
                 int64_t sampling_ratio, bool aligned) {
  const char* op = "roi_align";
  check_defined(op, input, "input");
  check_defined(op, rois, "rois");
  if (input.dim() != 4) throw_arg(op, "input must be [N, C, H, W], got " + shape_str(input.shape()));
  if (rois.dim() != 2 || rois.size(1) != 5) throw_arg(op, "rois must be [K, 5], got " + shape_str(rois.shape()));
  check_same_dtype(op, input, rois);
  check_same_device(op, input, rois);
  const kernels::RoiAlignParams p{out_h, out_w, spatial_scale, sampling_ratio, aligned};
  kernels::check_roi_align_args(feature_shape(input.shape()), rois.size(0), p, op);
  const Tensor x = input.detach().contiguous(), r = rois.detach().contiguous();
  if (r.numel()) {  // on CUDA through a host copy of the rois: the kernels cannot report a bad index
    const Tensor host = r.is_cuda() ? r.cpu() : r;
    MRC_DISPATCH_FLOATING(host.dtype(), op, [&] {
      kernels::check_roi_batch_indices(host.data<scalar_t>(), host.size(0), x.size(0), op);
    });
  }
  Tensor out = Tensor::empty({rois.size(0), input.size(1), out_h, out_w}, input.dtype(), input.device());
  if (out.numel()) forward(x, r, p, out);
  const Shape in_shape = input.shape();
  SavedTensor sr(r);
  return record(out, {input}, op, [sr, p, in_shape](const Tensor& g) -> std::vector<Tensor> {
    Tensor gx = Tensor::empty(in_shape, g.dtype(), g.device());
    const Tensor rv = sr.get();
    if (rv.numel() == 0 || g.numel() == 0) {
      gx.zero_();
      return {gx};
    }
    backward(g.contiguous(), rv, p, gx);
    return {gx};
  });
}

}  // namespace mrc
