// Mask ops over the raw kernels: argument checks and CPU/CUDA dispatch.
#include "kernels/masks/masks_op.h"

#include <stdexcept>
#include <string>

#include "kernels/masks/masks.h"
#include "kernels/pool/pool.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
  if (!x.defined() || x.dim() != 3 || x.dtype() != DType::Float32 || out_h < 1 || out_w < 1)
    throw_arg("resize_bilinear", "expected float32 [C, H, W] and a positive size, got " +
                                     (x.defined() ? x.str() : std::string("an undefined tensor")) + " to " +
                                     std::to_string(out_h) + "x" + std::to_string(out_w));
  return interpolate_bilinear(x.unsqueeze(0), out_h, out_w, false).squeeze(0);
}

Tensor project_masks_on_boxes(const Tensor& gt_masks, const Tensor& boxes_in, const Tensor& idx_in, int64_t m) {
  const char* op = "project_masks_on_boxes";
  check_defined(op, gt_masks, "gt_masks");
  check_defined(op, boxes_in, "boxes");
  check_defined(op, idx_in, "matched_idxs");
  if (gt_masks.dim() != 3) throw_arg(op, "gt_masks must be [G, H, W], got " + shape_str(gt_masks.shape()));
  if (gt_masks.dtype() != DType::UInt8 && gt_masks.dtype() != DType::Float32)
    throw_arg(op, "gt_masks must be uint8 or float32, got " + gt_masks.str());
  if (boxes_in.dim() != 2 || boxes_in.size(1) != 4 || boxes_in.dtype() != DType::Float32)
    throw_arg(op, "boxes must be float32 [n, 4], got " + boxes_in.str());
  if (idx_in.dim() != 1 || idx_in.size(0) != boxes_in.size(0) || idx_in.dtype() != DType::Int64)
    throw_arg(op, "matched_idxs must be int64 [" + std::to_string(boxes_in.size(0)) + "], got " + idx_in.str());
  if (m <= 0) throw_arg(op, "the output size M must be positive, got " + std::to_string(m));
  check_same_device(op, gt_masks, boxes_in);
  check_same_device(op, boxes_in, idx_in);
  const Tensor g = gt_masks.detach().contiguous(), b = boxes_in.detach().contiguous(), idx = idx_in.contiguous();
  const int64_t n = b.size(0);
  Tensor out = Tensor::empty({n, m, m}, DType::Float32, b.device());
  if (n == 0) return out;
  if (b.is_cuda()) {
#ifdef MRC_WITH_CUDA
    auto s = cuda::current_stream(b.device().index);
    if (g.dtype() == DType::UInt8)
      kernels::project_masks_on_boxes_cuda<uint8_t>(g.data<uint8_t>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                    idx.data<int64_t>(), n, m, out.data<float>(), s);
    else
      kernels::project_masks_on_boxes_cuda<float>(g.data<float>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                  idx.data<int64_t>(), n, m, out.data<float>(), s);
#endif
    return out;
  }
  try {
    if (g.dtype() == DType::UInt8)
      kernels::project_masks_on_boxes_cpu<uint8_t>(g.data<uint8_t>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                   idx.data<int64_t>(), n, m, out.data<float>());
    else
      kernels::project_masks_on_boxes_cpu<float>(g.data<float>(), g.size(0), g.size(1), g.size(2), b.data<float>(),
                                                 idx.data<int64_t>(), n, m, out.data<float>());
  } catch (const std::runtime_error& e) {
    throw_arg(op, e.what());
  }
  return out;
}

Tensor paste_masks_in_image(const Tensor& masks_in, const Tensor& boxes_in, int64_t height, int64_t width,
                            int64_t padding) {
  const char* op = "paste_masks_in_image";
  check_defined(op, masks_in, "masks");
  check_defined(op, boxes_in, "boxes");
  Tensor masks = masks_in;
  if (masks.dim() == 4 && masks.size(1) == 1) masks = masks.squeeze(1);
  if (masks.dim() != 3 || masks.size(1) != masks.size(2) || masks.dtype() != DType::Float32)
    throw_arg(op, "masks must be float32 [n, M, M] or [n, 1, M, M], got " + masks_in.str());
  if (boxes_in.dim() != 2 || boxes_in.size(1) != 4 || boxes_in.size(0) != masks.size(0) ||
      boxes_in.dtype() != DType::Float32)
    throw_arg(op, "boxes must be float32 [" + std::to_string(masks.size(0)) + ", 4], got " + boxes_in.str());
  if (height < 0 || width < 0) throw_arg(op, "image size must be >= 0");
  check_same_device(op, masks, boxes_in);
  const Tensor mk = masks.detach().contiguous(), b = boxes_in.detach().contiguous();
  const int64_t n = mk.size(0), m = mk.size(1);
  Tensor out = Tensor::empty({n, 1, height, width}, DType::Float32, mk.device());
  if (out.numel() == 0) return out;
  if (mk.is_cuda()) {
#ifdef MRC_WITH_CUDA
    kernels::paste_masks_in_image_cuda(mk.data<float>(), n, m, b.data<float>(), height, width, out.data<float>(),
                                       cuda::current_stream(mk.device().index), padding);
#endif
    return out;
  }
  try {
    kernels::paste_masks_in_image_cpu(mk.data<float>(), n, m, b.data<float>(), height, width, out.data<float>(),
                                      padding);
  } catch (const std::runtime_error& e) {
    throw_arg(op, e.what());
  }
  return out;
}

}  // namespace mrc
