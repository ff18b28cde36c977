// Anchor generation on the CPU: cell anchors with torchvision's float32 rounding and the shifted grid.
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/anchors/anchors.h"
#include "kernels/detection_math.h"

namespace mrc::kernels {

std::vector<float> cell_anchors(const std::vector<double>& sizes, const std::vector<double>& aspect_ratios) {
  if (sizes.empty() || aspect_ratios.empty())
    throw std::runtime_error("cell_anchors: sizes and aspect_ratios must both be non-empty");
  for (double s : sizes)
    if (!(s > 0)) throw std::runtime_error("cell_anchors: sizes must be positive, got " + std::to_string(s));
  for (double r : aspect_ratios)
    if (!(r > 0)) throw std::runtime_error("cell_anchors: aspect_ratios must be positive, got " + std::to_string(r));
  std::vector<float> out;
  for (double r : aspect_ratios) {
    const float h_ratio = std::sqrt(float(r)), w_ratio = 1.f / h_ratio;
    for (double s : sizes) {
      const float ws = w_ratio * float(s), hs = h_ratio * float(s);
      for (float v : {-ws, -hs, ws, hs}) out.push_back(std::nearbyint(v / 2.f));
    }
  }
  return out;
}

AnchorGrid anchor_grid(int64_t image_h, int64_t image_w, int64_t grid_h, int64_t grid_w) {
  if (image_h <= 0 || image_w <= 0 || grid_h <= 0 || grid_w <= 0)
    throw std::runtime_error("anchor_grid: image size " + std::to_string(image_h) + "x" + std::to_string(image_w) +
                             " and feature size " + std::to_string(grid_h) + "x" + std::to_string(grid_w) +
                             " must be positive");
  return AnchorGrid{grid_h, grid_w, image_h / grid_h, image_w / grid_w};
}

void grid_anchors_cpu(const float* cell, int64_t num_cell, const AnchorGrid& g, float* out) {
  // A few MB of stores at most (0.1 ms): threads would cost more to wake than they save.
  for (int64_t y = 0; y < g.grid_h; ++y)
    for (int64_t x = 0; x < g.grid_w; ++x)
      for (int64_t a = 0; a < num_cell; ++a)
        shift_anchor(cell + 4 * a, x * g.stride_w, y * g.stride_h, out + 4 * ((y * g.grid_w + x) * num_cell + a));
}

std::vector<float> pyramid_anchors_cpu(const std::vector<std::vector<float>>& cells, const std::vector<AnchorGrid>& grids) {
  if (cells.size() != grids.size())
    throw std::runtime_error("pyramid_anchors_cpu: " + std::to_string(cells.size()) + " cell-anchor sets for " +
                             std::to_string(grids.size()) + " feature levels; expected one per level");
  int64_t total = 0;
  for (size_t l = 0; l < grids.size(); ++l) total += grids[l].count(int64_t(cells[l].size() / 4));
  std::vector<float> out(static_cast<size_t>(4 * total));
  int64_t row = 0;
  for (size_t l = 0; l < grids.size(); ++l) {
    const int64_t a = int64_t(cells[l].size() / 4);
    grid_anchors_cpu(cells[l].data(), a, grids[l], out.data() + 4 * row);
    row += grids[l].count(a);
  }
  return out;
}

}  // namespace mrc::kernels
