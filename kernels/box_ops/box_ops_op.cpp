// Box ops over the raw kernels: argument checks and CPU/CUDA dispatch (float32 on CUDA).
#include "kernels/box_ops/box_ops_op.h"

#include <string>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/host_sync.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

namespace {

Tensor rows4(const char* op, const Tensor& t, const char* arg) {
  check_defined(op, t, arg);
  if (t.dim() != 2 || t.size(1) != 4) throw_arg(op, std::string(arg) + " must be [n, 4], got " + shape_str(t.shape()));
  if (!t.is_floating_point()) throw_arg(op, std::string(arg) + " must be floating point, got " + t.str());
  return t.detach().contiguous();
}

void cuda_float_only(const char* op, const Tensor& t) {
  if (t.is_cuda() && t.dtype() != DType::Float32) throw_arg(op, "the CUDA kernel takes float32, got " + t.str());
}

#ifdef MRC_WITH_CUDA
kernels::GpuStream stream_of(const Tensor& t) { return cuda::current_stream(t.device().index); }
#endif

}  // namespace

Tensor box_iou(const Tensor& a_in, const Tensor& b_in) {
  const char* op = "box_iou";
  const Tensor a = rows4(op, a_in, "a"), b = rows4(op, b_in, "b");
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
  cuda_float_only(op, a);
  Tensor out = Tensor::empty({a.size(0), b.size(0)}, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  if (a.is_cuda()) {
#ifdef MRC_WITH_CUDA
    const cuda::DeviceGuard device_guard(a.device().index);  // the kernels launch on the current device
    kernels::box_iou_cuda(a.data<float>(), a.size(0), b.data<float>(), b.size(0), out.data<float>(), stream_of(a));
#endif
    return out;
  }
  MRC_DISPATCH_FLOATING(a.dtype(), op, [&] {
    kernels::box_iou_cpu<scalar_t>(a.data<scalar_t>(), a.size(0), b.data<scalar_t>(), b.size(0), out.data<scalar_t>());
  });
  return out;
}

Tensor encode_boxes(const Tensor& reference_in, const Tensor& proposals_in, const BoxCoderWeights& w) {
  const char* op = "encode_boxes";
  const Tensor r = rows4(op, reference_in, "reference"), p = rows4(op, proposals_in, "proposals");
  if (r.size(0) != p.size(0))
    throw_arg(op, "reference " + shape_str(r.shape()) + " and proposals " + shape_str(p.shape()) + " differ in rows");
  check_same_dtype(op, r, p);
  check_same_device(op, r, p);
  cuda_float_only(op, r);
  Tensor out = Tensor::empty(r.shape(), r.dtype(), r.device());
  if (out.numel() == 0) return out;
  if (r.is_cuda()) {
#ifdef MRC_WITH_CUDA
    const cuda::DeviceGuard device_guard(r.device().index);  // the kernels launch on the current device
    kernels::encode_boxes_cuda(r.data<float>(), p.data<float>(), r.size(0), w, out.data<float>(), stream_of(r));
#endif
    return out;
  }
  MRC_DISPATCH_FLOATING(r.dtype(), op, [&] {
    kernels::encode_boxes_cpu<scalar_t>(r.data<scalar_t>(), p.data<scalar_t>(), r.size(0), w, out.data<scalar_t>());
  });
  return out;
}

Tensor decode_boxes(const Tensor& deltas_in, const Tensor& boxes_in, const BoxCoderWeights& w, double clip) {
  const char* op = "decode_boxes";
  check_defined(op, deltas_in, "deltas");
  const Tensor b = rows4(op, boxes_in, "boxes");
  if (deltas_in.dim() != 2 || deltas_in.size(1) % 4 != 0 || deltas_in.size(0) != b.size(0))
    throw_arg(op, "deltas must be [" + std::to_string(b.size(0)) + ", 4k], got " + shape_str(deltas_in.shape()));
  const Tensor d = deltas_in.detach().contiguous();
  check_same_dtype(op, d, b);
  check_same_device(op, d, b);
  cuda_float_only(op, d);
  const int64_t n = b.size(0), k = d.size(1) / 4;
  Tensor out = Tensor::empty({n, k, 4}, b.dtype(), b.device());
  if (out.numel() == 0) return out;
  if (b.is_cuda()) {
#ifdef MRC_WITH_CUDA
    const cuda::DeviceGuard device_guard(b.device().index);  // the kernels launch on the current device
    kernels::decode_boxes_cuda(d.data<float>(), b.data<float>(), n, k, w, out.data<float>(), stream_of(b), clip);
#endif
    return out;
  }
  MRC_DISPATCH_FLOATING(b.dtype(), op, [&] {
    kernels::decode_boxes_cpu<scalar_t>(d.data<scalar_t>(), b.data<scalar_t>(), n, k, w, out.data<scalar_t>(), clip);
  });
  return out;
}

Tensor clip_boxes(const Tensor& boxes_in, int64_t height, int64_t width) {
  const char* op = "clip_boxes";
  check_defined(op, boxes_in, "boxes");
  if (boxes_in.dim() < 1 || boxes_in.size(-1) != 4) throw_arg(op, "boxes must be [..., 4], got " + shape_str(boxes_in.shape()));
  if (!boxes_in.is_floating_point()) throw_arg(op, "boxes must be floating point, got " + boxes_in.str());
  cuda_float_only(op, boxes_in);
  const Tensor b = boxes_in.detach().contiguous();
  Tensor out = Tensor::empty(b.shape(), b.dtype(), b.device());
  const int64_t rows = b.numel() / 4;
  if (rows == 0) return out;
  if (b.is_cuda()) {
#ifdef MRC_WITH_CUDA
    const cuda::DeviceGuard device_guard(b.device().index);  // the kernels launch on the current device
    kernels::clip_boxes_cuda(b.data<float>(), rows, height, width, out.data<float>(), stream_of(b));
#endif
    return out;
  }
  MRC_DISPATCH_FLOATING(b.dtype(), op, [&] {
    kernels::clip_boxes_cpu<scalar_t>(b.data<scalar_t>(), rows, height, width, out.data<scalar_t>());
  });
  return out;
}

Tensor remove_small_boxes(const Tensor& boxes_in, double min_size) {
  const char* op = "remove_small_boxes";
  const Tensor b = rows4(op, boxes_in, "boxes");
  cuda_float_only(op, b);
  const int64_t n = b.size(0);
  Tensor keep = Tensor::empty({n}, DType::Int64, b.device());
  int64_t k = 0;
  if (n > 0) {
    count_host_sync();  // the number kept is read on the host
    if (b.is_cuda()) {
#ifdef MRC_WITH_CUDA
      const cuda::DeviceGuard device_guard(b.device().index);  // the kernels launch on the current device
      k = kernels::remove_small_boxes_cuda(b.data<float>(), n, min_size, keep.data<int64_t>(), stream_of(b));
#endif
    } else {
      MRC_DISPATCH_FLOATING(b.dtype(), op, [&] {
        k = kernels::remove_small_boxes_cpu<scalar_t>(b.data<scalar_t>(), n, min_size, keep.data<int64_t>());
      });
    }
  }
  return keep.narrow(0, 0, k).clone();
}

Tensor match_boxes(const Tensor& quality_in, const MatcherParams& p) {
  const char* op = "match_boxes";
  check_defined(op, quality_in, "quality");
  if (quality_in.dim() != 2) throw_arg(op, "quality must be [gt, predictions], got " + shape_str(quality_in.shape()));
  if (!quality_in.is_floating_point()) throw_arg(op, "quality must be floating point, got " + quality_in.str());
  cuda_float_only(op, quality_in);
  const Tensor q = quality_in.detach().contiguous();
  const int64_t m = q.size(0), n = q.size(1);
  Tensor out = Tensor::empty({n}, DType::Int64, q.device());
  if (q.is_cuda()) {
#ifdef MRC_WITH_CUDA
    if (m <= 0) throw_arg(op, "no ground-truth boxes available for one of the images during training");
    if (n <= 0) throw_arg(op, "no proposal boxes available for one of the images during training");
    const cuda::DeviceGuard device_guard(q.device().index);  // the kernels launch on the current device
    kernels::match_cuda(q.data<float>(), m, n, p, out.data<int64_t>(), stream_of(q));
#endif
    return out;
  }
  MRC_DISPATCH_FLOATING(q.dtype(), op, [&] {
    kernels::match_cpu<scalar_t>(q.data<scalar_t>(), m, n, p, out.data<int64_t>());
  });
  return out;
}

SampledMasks balanced_sample(const Tensor& labels, int64_t batch_size_per_image, double positive_fraction,
                             Generator& gen) {
  const char* op = "balanced_sample";
  check_defined(op, labels, "labels");
  if (labels.dim() != 1) throw_arg(op, "labels must be 1-D, got " + shape_str(labels.shape()));
  const std::vector<int64_t> l = labels.to(DType::Int64).to_vector<int64_t>();
  const int64_t n = int64_t(l.size());
  std::vector<uint8_t> pos(static_cast<size_t>(n)), neg(static_cast<size_t>(n));
  kernels::balanced_sample(l.data(), n, batch_size_per_image, positive_fraction,
                           [&gen](int64_t k) { return gen.randperm(k); }, pos.data(), neg.data());
  return {Tensor::from_blob(pos.data(), {n}, DType::UInt8, labels.device()),
          Tensor::from_blob(neg.data(), {n}, DType::UInt8, labels.device())};
}

}  // namespace mrc
