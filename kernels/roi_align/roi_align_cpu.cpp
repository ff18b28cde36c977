// ROIAlign forward and backward on the CPU (float and double): argument checks, then the shared loops
// of roi_align_cpu_impl.h over a single feature map.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // round like torchvision's (unfused) build, see host_device.h
#endif
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/roi_align/roi_align.h"
#include "kernels/roi_align/roi_align_cpu_impl.h"

namespace mrc::kernels {

void check_roi_align_args(const FeatureShape& s, int64_t num_rois, const RoiAlignParams& p, const char* where) {
  auto fail = [&](const std::string& what) { throw std::runtime_error(std::string(where) + ": " + what); };
  if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0)
    fail("feature shape must be non-negative, got N=" + std::to_string(s.n) + " C=" + std::to_string(s.c) +
         " H=" + std::to_string(s.h) + " W=" + std::to_string(s.w));
  if (num_rois < 0) fail("num_rois must be >= 0, got " + std::to_string(num_rois));
  if (p.pooled_h <= 0 || p.pooled_w <= 0)
    fail("output_size must be positive, got " + std::to_string(p.pooled_h) + "x" + std::to_string(p.pooled_w));
  if (!(p.spatial_scale > 0) || !std::isfinite(p.spatial_scale))
    fail("spatial_scale must be a positive finite number, got " + std::to_string(p.spatial_scale));
  if (s.h * s.w > INT32_MAX) fail("feature planes above 2^31 elements are not supported");
}

template <class T>
void check_roi_batch_indices(const T* rois, int64_t num_rois, int64_t batch, const char* where) {
  for (int64_t k = 0; k < num_rois; ++k) {
    const T b = rois[k * 5];
    if (!(b >= T(0) && b < T(batch)))
      throw std::runtime_error(std::string(where) + ": rois[" + std::to_string(k) + "][0] (batch index) is " +
                               std::to_string(double(b)) + ", expected a value in [0, " + std::to_string(batch) +
                               ")");
  }
}

template <class T>
void roi_align_forward_cpu(const T* input, const FeatureShape& s, const T* rois, int64_t num_rois,
                           const RoiAlignParams& p, T* output) {
  check_roi_align_args(s, num_rois, p, "roi_align_forward_cpu");
  check_roi_batch_indices(rois, num_rois, s.n, "roi_align_forward_cpu");
  const detail::FeatureView<T> view{input, s, p.spatial_scale};
  detail::roi_align_forward_rois<T, T>(rois, num_rois, s.c, p, [&](int64_t) { return &view; }, output);
}

template <class T>
void roi_align_backward_cpu(const T* grad_output, const T* rois, int64_t num_rois, const RoiAlignParams& p,
                            const FeatureShape& s, T* grad_input) {
  check_roi_align_args(s, num_rois, p, "roi_align_backward_cpu");
  check_roi_batch_indices(rois, num_rois, s.n, "roi_align_backward_cpu");
  const detail::FeatureView<T> view{nullptr, s, p.spatial_scale};
  detail::roi_align_backward_rois<T>(grad_output, rois, num_rois, s.c, p, {{grad_input, s}},
                                     [&](int64_t) { return std::pair{&view, grad_input}; });
}

template void check_roi_batch_indices<float>(const float*, int64_t, int64_t, const char*);
template void check_roi_batch_indices<double>(const double*, int64_t, int64_t, const char*);
template void roi_align_forward_cpu<float>(const float*, const FeatureShape&, const float*, int64_t,
                                           const RoiAlignParams&, float*);
template void roi_align_forward_cpu<double>(const double*, const FeatureShape&, const double*, int64_t,
                                            const RoiAlignParams&, double*);
template void roi_align_backward_cpu<float>(const float*, const float*, int64_t, const RoiAlignParams&,
                                            const FeatureShape&, float*);
template void roi_align_backward_cpu<double>(const double*, const double*, int64_t, const RoiAlignParams&,
                                             const FeatureShape&, double*);

}  // namespace mrc::kernels
