// Index math of the pooling/resampling kernels, shared by the CPU and CUDA backends.
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace mrc::pool {

// Source coordinate of output index i for bilinear resampling (torch's area_pixel_compute_source_index).
MRC_HOST_DEVICE inline double bilinear_source(int64_t i, int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? double(i) * double(in - 1) / double(out - 1) : 0.0;
  const double scale = double(in) / double(out);
  const double s = (double(i) + 0.5) * scale - 0.5;
  return s < 0 ? 0.0 : s;
}

// The two taps and the weight of the second for one axis.
MRC_HOST_DEVICE inline void bilinear_taps(int64_t i, int64_t in, int64_t out, bool align_corners, int64_t& i0,
                                          int64_t& i1, double& w1) {
  const double s = bilinear_source(i, in, out, align_corners);
  i0 = int64_t(s);
  if (i0 > in - 1) i0 = in - 1;
  i1 = i0 + 1 < in ? i0 + 1 : in - 1;
  w1 = s - double(i0);
}

// Adaptive pooling window [start, end) of output index i (torch's rule).
MRC_HOST_DEVICE inline int64_t adaptive_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
MRC_HOST_DEVICE inline int64_t adaptive_end(int64_t i, int64_t out, int64_t in) { return ((i + 1) * in + out - 1) / out; }

}  // namespace mrc::pool
