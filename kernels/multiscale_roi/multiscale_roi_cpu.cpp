// Multi-scale ROIAlign on the CPU: the level of each ROI, then ROIAlign's shared loops reading each
// ROI from its level.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // round like torchvision's (unfused) build, see host_device.h
#endif
#include <stdexcept>
#include <string>

#include "kernels/detection_math.h"
#include "kernels/multiscale_roi/multiscale_roi.h"
#include "kernels/roi_align/roi_align_cpu_impl.h"

namespace mrc::kernels {

Pyramid infer_pyramid(const std::vector<FeatureShape>& levels,
                      const std::vector<std::pair<int64_t, int64_t>>& image_sizes) {
  if (image_sizes.empty()) throw std::runtime_error("infer_pyramid: image_sizes is empty, expected >= 1 image");
  if (levels.empty() || levels.size() > size_t(kMaxPyramidLevels))
    throw std::runtime_error("infer_pyramid: got " + std::to_string(levels.size()) + " feature levels, expected 1.." +
                             std::to_string(kMaxPyramidLevels));
  int64_t max_h = 0;
  for (const auto& [h, w] : image_sizes) max_h = std::max(max_h, h);
  Pyramid pyr;
  pyr.num_levels = int(levels.size());
  for (size_t l = 0; l < levels.size(); ++l) {
    pyr.shape[l] = levels[l];
    pyr.scale[l] = infer_scale(levels[l].h, max_h);
  }
  pyr.k_min = scale_to_level(pyr.scale[0]);
  pyr.k_max = scale_to_level(pyr.scale[pyr.num_levels - 1]);
  return pyr;
}

void check_pyramid(const Pyramid& pyr, int64_t num_rois, const RoiAlignParams& p, const char* where) {
  if (pyr.num_levels < 1 || pyr.num_levels > kMaxPyramidLevels)
    throw std::runtime_error(std::string(where) + ": pyramid has " + std::to_string(pyr.num_levels) +
                             " levels, expected 1.." + std::to_string(kMaxPyramidLevels));
  for (int l = 0; l < pyr.num_levels; ++l) {
    RoiAlignParams lp = p;
    lp.spatial_scale = pyr.scale[l];
    check_roi_align_args(pyr.shape[l], num_rois, lp, where);
    if (pyr.shape[l].n != pyr.shape[0].n || pyr.shape[l].c != pyr.shape[0].c)
      throw std::runtime_error(std::string(where) + ": level " + std::to_string(l) +
                               " has a different batch or channel count than level 0");
  }
}

void fpn_levels_cpu(const float* rois, int64_t num_rois, const Pyramid& pyr, int64_t* levels) {
  for (int64_t k = 0; k < num_rois; ++k) {
    if (pyr.num_levels == 1) {
      levels[k] = 0;
      continue;
    }
    const int64_t l = fpn_level(rois + k * 5 + 1, pyr.k_min, pyr.k_max, pyr.canonical_scale, pyr.canonical_level,
                                pyr.eps);
    levels[k] = l < pyr.num_levels ? l : -1;
  }
}

void multiscale_roi_align_forward_cpu(const float* const* features, const Pyramid& pyr, const float* rois,
                                      int64_t num_rois, const RoiAlignParams& p, float* output) {
  check_pyramid(pyr, num_rois, p, "multiscale_roi_align_forward_cpu");
  check_roi_batch_indices(rois, num_rois, pyr.shape[0].n, "multiscale_roi_align_forward_cpu");
  std::vector<int64_t> levels(static_cast<size_t>(num_rois));
  fpn_levels_cpu(rois, num_rois, pyr, levels.data());
  detail::FeatureView<float> views[kMaxPyramidLevels];
  for (int l = 0; l < pyr.num_levels; ++l) views[l] = {features[l], pyr.shape[l], pyr.scale[l]};
  detail::roi_align_forward_rois<float, float>(
      rois, num_rois, pyr.shape[0].c, p,
      [&](int64_t k) { return levels[k] < 0 ? nullptr : &views[levels[k]]; }, output);
}

void multiscale_roi_align_backward_cpu(const float* grad_output, const Pyramid& pyr, const float* rois,
                                       int64_t num_rois, const RoiAlignParams& p, float* const* grads) {
  check_pyramid(pyr, num_rois, p, "multiscale_roi_align_backward_cpu");
  check_roi_batch_indices(rois, num_rois, pyr.shape[0].n, "multiscale_roi_align_backward_cpu");
  std::vector<int64_t> levels(static_cast<size_t>(num_rois));
  fpn_levels_cpu(rois, num_rois, pyr, levels.data());
  detail::FeatureView<float> views[kMaxPyramidLevels];
  std::vector<std::pair<float*, FeatureShape>> buffers;
  for (int l = 0; l < pyr.num_levels; ++l) {
    views[l] = {nullptr, pyr.shape[l], pyr.scale[l]};
    buffers.push_back({grads[l], pyr.shape[l]});
  }
  detail::roi_align_backward_rois<float>(grad_output, rois, num_rois, pyr.shape[0].c, p, buffers, [&](int64_t k) {
    const int64_t l = levels[k];
    return l < 0 ? std::pair<const detail::FeatureView<float>*, float*>{nullptr, nullptr}
                 : std::pair<const detail::FeatureView<float>*, float*>{&views[l], grads[l]};
  });
}

}  // namespace mrc::kernels
