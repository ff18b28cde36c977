// generate_anchors: cell anchors on the host, the shifted grid on the tensors' device.
#include "kernels/anchors/anchors_op.h"

#include <string>

#include "kernels/anchors/anchors.h"
#include "kernels/index/index.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

std::vector<int64_t> anchors_per_location(const std::vector<std::vector<double>>& sizes,
                                          const std::vector<std::vector<double>>& aspect_ratios) {
  if (sizes.size() != aspect_ratios.size())
    throw_arg("anchors_per_location", std::to_string(sizes.size()) + " size sets but " +
                                          std::to_string(aspect_ratios.size()) + " aspect-ratio sets");
  std::vector<int64_t> out;
  for (size_t l = 0; l < sizes.size(); ++l) out.push_back(int64_t(sizes[l].size() * aspect_ratios[l].size()));
  return out;
}

Tensor generate_anchors(const std::vector<std::vector<double>>& sizes,
                        const std::vector<std::vector<double>>& aspect_ratios,
                        const std::vector<std::pair<int64_t, int64_t>>& feature_sizes, int64_t image_h, int64_t image_w,
                        Device device) {
  const char* op = "generate_anchors";
  if (sizes.size() != feature_sizes.size() || aspect_ratios.size() != feature_sizes.size())
    throw_arg(op, "got " + std::to_string(sizes.size()) + " size sets and " + std::to_string(aspect_ratios.size()) +
                      " aspect-ratio sets for " + std::to_string(feature_sizes.size()) +
                      " feature maps; expected one of each per feature map");
  std::vector<Tensor> levels;
  for (size_t l = 0; l < feature_sizes.size(); ++l) {
    std::vector<float> cell;
    kernels::AnchorGrid grid;
    try {
      cell = kernels::cell_anchors(sizes[l], aspect_ratios[l]);
      grid = kernels::anchor_grid(image_h, image_w, feature_sizes[l].first, feature_sizes[l].second);
    } catch (const std::runtime_error& e) {
      throw_arg(op, "level " + std::to_string(l) + ": " + e.what());
    }
    const int64_t a = int64_t(cell.size() / 4);
    Tensor out = Tensor::empty({grid.count(a), 4}, DType::Float32, device);
    if (out.numel()) {
      if (device.is_cuda()) {
#ifdef MRC_WITH_CUDA
        if (a > kernels::kMaxCellAnchors)
          throw_arg(op, "level " + std::to_string(l) + " has " + std::to_string(a) + " cell anchors, the CUDA kernel takes " +
                            std::to_string(kernels::kMaxCellAnchors));
        const cuda::DeviceGuard device_guard(device.index);  // the kernels launch on the current device
        kernels::grid_anchors_cuda(cell.data(), a, grid, out.data<float>(), cuda::current_stream(device.index));
#endif
      } else {
        kernels::grid_anchors_cpu(cell.data(), a, grid, out.data<float>());
      }
    }
    levels.push_back(out);
  }
  return cat(levels, 0);
}

}  // namespace mrc
