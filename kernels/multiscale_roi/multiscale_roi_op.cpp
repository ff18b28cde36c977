// multiscale_roi_align op: argument checks, the pyramid geometry, device dispatch and the backward.
#include "kernels/multiscale_roi/multiscale_roi_op.h"

#include <string>

#include "kernels/index/index.h"
#include "kernels/multiscale_roi/multiscale_roi.h"
#include "tensor/autograd.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

namespace {

kernels::FeatureShape feature_shape(const Shape& s) { return {s[0], s[1], s[2], s[3]}; }

void check_args(const char* op, const std::vector<Tensor>& features, const Tensor& rois, const ImageSizes& sizes) {
  if (features.empty() || features.size() > size_t(kernels::kMaxPyramidLevels))
    throw_arg(op, "expected 1.." + std::to_string(kernels::kMaxPyramidLevels) + " feature levels, got " +
                      std::to_string(features.size()));
  if (sizes.empty()) throw_arg(op, "image_sizes is empty, expected one (height, width) per image");
  check_defined(op, rois, "rois");
  if (rois.dim() != 2 || rois.size(1) != 5) throw_arg(op, "rois must be [K, 5], got " + shape_str(rois.shape()));
  if (rois.dtype() != DType::Float32) throw_arg(op, "rois must be float32, got " + rois.str());
  for (size_t l = 0; l < features.size(); ++l) {
    const Tensor& f = features[l];
    const std::string what = "features[" + std::to_string(l) + "]";
    check_defined(op, f, what.c_str());
    if (f.dim() != 4) throw_arg(op, what + " must be [N, C, H, W], got " + shape_str(f.shape()));
    if (f.dtype() != DType::Float32) throw_arg(op, what + " must be float32, got " + f.str());
    check_same_device(op, f, rois);
    if (f.size(0) != features[0].size(0) || f.size(1) != features[0].size(1))
      throw_arg(op, what + " has batch/channels " + shape_str(f.shape()) + ", level 0 has " +
                        shape_str(features[0].shape()));
  }
}

}  // namespace

Tensor multiscale_roi_align(const std::vector<Tensor>& features, const Tensor& rois, const ImageSizes& image_sizes,
                            int64_t out_h, int64_t out_w, int64_t sampling_ratio, bool aligned) {
  const char* op = "multiscale_roi_align";
  check_args(op, features, rois, image_sizes);
  std::vector<kernels::FeatureShape> shapes;
  std::vector<Tensor> xs;
  for (const Tensor& f : features) {
    shapes.push_back(feature_shape(f.shape()));
    xs.push_back(f.detach().contiguous());
  }
  const kernels::Pyramid pyr = kernels::infer_pyramid(shapes, image_sizes);
  const kernels::RoiAlignParams p{out_h, out_w, 1.0, sampling_ratio, aligned};
  const Tensor r = rois.detach().contiguous();
  const int64_t k = r.size(0);
  Tensor out = Tensor::empty({k, features[0].size(1), out_h, out_w}, DType::Float32, rois.device());
  if (k > 0) {
    std::vector<const float*> ptrs;
    for (const Tensor& x : xs) ptrs.push_back(x.data<float>());
    if (r.is_cuda()) {
#ifdef MRC_WITH_CUDA
      const cuda::DeviceGuard guard(r.device().index);  // the kernels launch on the current device
      kernels::multiscale_roi_align_forward_cuda(ptrs.data(), pyr, r.data<float>(), k, p, out.data<float>(),
                                                 cuda::current_stream(r.device().index));
#endif
    } else {
      kernels::multiscale_roi_align_forward_cpu(ptrs.data(), pyr, r.data<float>(), k, p, out.data<float>());
    }
  } else {
    out.zero_();
  }
  std::vector<Shape> level_shapes;
  for (const Tensor& f : features) level_shapes.push_back(f.shape());
  SavedTensor sr(r);
  return record(out, features, op, [sr, pyr, p, level_shapes](const Tensor& g) -> std::vector<Tensor> {
    std::vector<Tensor> grads;
    std::vector<float*> ptrs;
    for (const Shape& s : level_shapes) {
      grads.push_back(Tensor::zeros(s, g.dtype(), g.device()));
      ptrs.push_back(grads.back().data<float>());
    }
    const Tensor rv = sr.get();
    if (rv.numel() == 0) return grads;
    const Tensor gc = g.contiguous();
    if (gc.is_cuda()) {
#ifdef MRC_WITH_CUDA
      const cuda::DeviceGuard guard(gc.device().index);
      kernels::multiscale_roi_align_backward_cuda(gc.data<float>(), pyr, rv.data<float>(), rv.size(0), p, ptrs.data(),
                                                  cuda::current_stream(gc.device().index));
#endif
    } else {
      kernels::multiscale_roi_align_backward_cpu(gc.data<float>(), pyr, rv.data<float>(), rv.size(0), p, ptrs.data());
    }
    return grads;
  });
}

Tensor boxes_to_rois(const std::vector<Tensor>& boxes) {
  const char* op = "boxes_to_rois";
  if (boxes.empty()) throw_arg(op, "expected at least one image's boxes");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const Tensor& b = boxes[i];
    if (b.dim() != 2 || b.size(1) != 4)
      throw_arg(op, "boxes[" + std::to_string(i) + "] must be [n, 4], got " + shape_str(b.shape()));
    const Tensor ids = Tensor::full({b.size(0), 1}, double(i), b.dtype(), b.device());
    parts.push_back(cat({ids, b.detach()}, 1));
  }
  return cat(parts, 0);
}

}  // namespace mrc
