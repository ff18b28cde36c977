// Anchor generation (torchvision AnchorGenerator): cell anchors per size and aspect ratio with its
// rounding, per-level strides, and the shifted grid (for each cell, y-major then x, every cell anchor).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/host_device.h"

namespace mrc::kernels {

// Cell anchors centred on the origin, (x1, y1, x2, y2) per row, aspect-ratio-major: for ratio r and
// size s, h = sqrt(r), w = 1 / h, and the row is round([-w s, -h s, w s, h s] / 2) in float32 with
// round-half-to-even (generate_anchors). Throws std::runtime_error on empty or non-positive inputs.
std::vector<float> cell_anchors(const std::vector<double>& sizes, const std::vector<double>& aspect_ratios);

// One feature level's grid: grid_h x grid_w cells, stride = image size // feature size per axis.
struct AnchorGrid {
  int64_t grid_h = 0, grid_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t count(int64_t cell_anchors) const { return grid_h * grid_w * cell_anchors; }
};

// torchvision's strides: image_h // grid_h, image_w // grid_w. Throws on non-positive sizes.
AnchorGrid anchor_grid(int64_t image_h, int64_t image_w, int64_t grid_h, int64_t grid_w);

// out: grid.count(num_cell) rows of 4, cell (y, x) anchor a at row (y * grid_w + x) * num_cell + a.
void grid_anchors_cpu(const float* cell, int64_t num_cell, const AnchorGrid& grid, float* out);

// Anchors of a pyramid, level after level (AnchorGenerator.forward for one image): cells[l] are
// level l's cell anchors (cell_anchors(sizes[l], ratios[l])). Returns the rows.
std::vector<float> pyramid_anchors_cpu(const std::vector<std::vector<float>>& cells, const std::vector<AnchorGrid>& grids);

#if defined(MRC_WITH_CUDA)
// `cell` is a host array (at most kMaxCellAnchors rows); `out` is device memory.
inline constexpr int64_t kMaxCellAnchors = 64;
void grid_anchors_cuda(const float* cell, int64_t num_cell, const AnchorGrid& grid, float* out, GpuStream stream);
#endif

}  // namespace mrc::kernels
