// nms / batched_nms / batched_nms_mask ops over the raw kernels (see nms.h for the tie rules).
#include "kernels/nms/nms_op.h"

#include "kernels/nms/nms.h"
#include "tensor/autograd.h"
#include "tensor/host_sync.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

namespace {

void check(const char* op, const Tensor& boxes, const Tensor& scores) {
  check_defined(op, boxes, "boxes");
  check_defined(op, scores, "scores");
  if (boxes.dim() != 2 || boxes.size(1) != 4) throw_arg(op, "boxes must be [N, 4], got " + shape_str(boxes.shape()));
  if (scores.dim() != 1 || scores.size(0) != boxes.size(0))
    throw_arg(op, "scores must be [" + std::to_string(boxes.size(0)) + "], got " + shape_str(scores.shape()));
  check_same_dtype(op, boxes, scores);
  check_same_device(op, boxes, scores);
  if (!boxes.is_floating_point()) throw_arg(op, "boxes must be floating point");
}

void check_batched(const char* op, const Tensor& boxes, const Tensor& scores, const Tensor& idxs) {
  check(op, boxes, scores);
  check_defined(op, idxs, "idxs");
  if (idxs.dtype() != DType::Int64 || idxs.dim() != 1 || idxs.size(0) != boxes.size(0))
    throw_arg(op, "idxs must be int64 [" + std::to_string(boxes.size(0)) + "], got " + idxs.str());
  check_same_device(op, boxes, idxs);
}

Tensor run(const char* op, const Tensor& boxes_in, const Tensor& scores_in, const Tensor& idxs_in, double thr) {
  NoGradGuard ng;
  const Tensor boxes = boxes_in.detach().contiguous(), scores = scores_in.detach().contiguous();
  const Tensor idxs = idxs_in.defined() ? idxs_in.detach().contiguous() : Tensor();
  const int64_t n = boxes.size(0);
  Tensor keep = Tensor::empty({n}, DType::Int64, boxes.device());
  if (n > 0) count_host_sync();  // the number kept is read on the host
  if (n == 0) return keep;
  int64_t k = 0;
  if (boxes.is_cuda()) {
#ifdef MRC_WITH_CUDA
    if (boxes.dtype() != DType::Float32) throw_arg(op, "the CUDA kernel takes float32");
    const cuda::DeviceGuard device_guard(boxes.device().index);  // the kernels launch on the current device
    auto stream = cuda::current_stream(boxes.device().index);
    k = idxs.defined() ? kernels::batched_nms_cuda(boxes.data<float>(), scores.data<float>(), idxs.data<int64_t>(), n,
                                                   thr, keep.data<int64_t>(), stream)
                       : kernels::nms_cuda(boxes.data<float>(), scores.data<float>(), n, thr, keep.data<int64_t>(), stream);
#endif
  } else {
    MRC_DISPATCH_FLOATING(boxes.dtype(), op, [&] {
      k = idxs.defined() ? kernels::batched_nms_cpu<scalar_t>(boxes.data<scalar_t>(), scores.data<scalar_t>(),
                                                              idxs.data<int64_t>(), n, thr, keep.data<int64_t>())
                         : kernels::nms_cpu<scalar_t>(boxes.data<scalar_t>(), scores.data<scalar_t>(), n, thr,
                                                      keep.data<int64_t>());
    });
  }
  return keep.narrow(0, 0, k).clone();
}

}  // namespace

Tensor nms(const Tensor& boxes, const Tensor& scores, double iou_threshold) {
  check("nms", boxes, scores);
  return run("nms", boxes, scores, Tensor(), iou_threshold);
}

Tensor batched_nms(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_threshold) {
  check_batched("batched_nms", boxes, scores, idxs);
  return run("batched_nms", boxes, scores, idxs, iou_threshold);
}

Tensor batched_nms_mask(const Tensor& boxes_in, const Tensor& scores_in, const Tensor& idxs_in, double iou_threshold) {
  const char* op = "batched_nms_mask";
  check_batched(op, boxes_in, scores_in, idxs_in);
  NoGradGuard ng;
  const Tensor boxes = boxes_in.detach().contiguous(), scores = scores_in.detach().contiguous();
  const Tensor idxs = idxs_in.detach().contiguous();
  const int64_t n = boxes.size(0);
  Tensor kept = Tensor::zeros({n}, DType::UInt8, boxes.device());
  if (n == 0) return kept;
  if (boxes.is_cuda()) {
#ifdef MRC_WITH_CUDA
    if (boxes.dtype() != DType::Float32) throw_arg(op, "the CUDA kernel takes float32");
    const cuda::DeviceGuard device_guard(boxes.device().index);  // the kernels launch on the current device
    kernels::batched_nms_mask_cuda(boxes.data<float>(), scores.data<float>(), idxs.data<int64_t>(), n, iou_threshold,
                                   kept.data<uint8_t>(), cuda::current_stream(boxes.device().index));
#endif
    return kept;
  }
  MRC_DISPATCH_FLOATING(boxes.dtype(), op, [&] {
    kernels::batched_nms_mask_cpu<scalar_t>(boxes.data<scalar_t>(), scores.data<scalar_t>(), idxs.data<int64_t>(), n,
                                            iou_threshold, kept.data<uint8_t>());
  });
  return kept;
}

}  // namespace mrc
