// The shifted anchor grid on CUDA: one thread per anchor, cell anchors passed by value.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/anchors/anchors.h"
#include "kernels/detection_math.h"

namespace mrc::kernels {
namespace {

struct CellAnchors {
  float v[kMaxCellAnchors * 4];
};

__global__ void grid_anchors_kernel(CellAnchors cell, int64_t num_cell, AnchorGrid g, float* __restrict__ out) {
  const int64_t total = g.grid_h * g.grid_w * num_cell;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t a = i % num_cell, xy = i / num_cell;
    shift_anchor(cell.v + 4 * a, (xy % g.grid_w) * g.stride_w, (xy / g.grid_w) * g.stride_h, out + 4 * i);
  }
}

}  // namespace

void grid_anchors_cuda(const float* cell, int64_t num_cell, const AnchorGrid& g, float* out, GpuStream stream) {
  if (num_cell < 0 || num_cell > kMaxCellAnchors)
    throw std::runtime_error("grid_anchors_cuda: " + std::to_string(num_cell) + " cell anchors, expected 0.." +
                             std::to_string(kMaxCellAnchors));
  const int64_t total = g.count(num_cell);
  if (total <= 0) return;
  CellAnchors c{};
  for (int64_t i = 0; i < 4 * num_cell; ++i) c.v[i] = cell[i];
  const int64_t blocks = (total + 255) / 256;
  grid_anchors_kernel<<<int(blocks < 65535 * 16 ? blocks : 65535 * 16), 256, 0, stream>>>(c, num_cell, g, out);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("grid_anchors_cuda: ") + cudaGetErrorString(e));
}

}  // namespace mrc::kernels
