// Box operations on CUDA: elementwise kernels over detection_math.h's shared box math, the Matcher as
// three passes (column best, row best, low-quality restore) and small-box removal via cub::DeviceSelect.
#include <cub/device/device_select.cuh>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/box_ops/box_ops.h"

namespace mrc::kernels {
namespace {

void check(cudaError_t e, const char* where) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(where) + ": " + cudaGetErrorString(e));
}

int blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return int(b < 65535 * 32 ? b : 65535 * 32);
}

#define MRC_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void box_iou_kernel(const float* __restrict__ a, int64_t n, const float* __restrict__ b, int64_t m,
                               float* __restrict__ out) {
  MRC_GRID_LOOP(idx, n * m) {
    const float* ai = a + 4 * (idx / m);
    const float* bj = b + 4 * (idx % m);
    out[idx] = box_iou(ai, box_area(ai), bj, box_area(bj));
  }
}

__global__ void encode_kernel(const float* __restrict__ ref, const float* __restrict__ prop, int64_t n,
                              BoxCoderWeights w, float* __restrict__ out) {
  MRC_GRID_LOOP(i, n) {
    box_encode(ref + 4 * i, prop + 4 * i, float(w.wx), float(w.wy), float(w.ww), float(w.wh), out + 4 * i);
  }
}

__global__ void decode_kernel(const float* __restrict__ deltas, const float* __restrict__ boxes, int64_t n,
                              int64_t k, BoxCoderWeights w, float clip, float* __restrict__ out) {
  MRC_GRID_LOOP(i, n * k) {
    box_decode(deltas + 4 * i, boxes + 4 * (i / k), float(w.wx), float(w.wy), float(w.ww), float(w.wh), clip,
               out + 4 * i);
  }
}

__global__ void clip_kernel(const float* __restrict__ in, int64_t count, float height, float width,
                            float* __restrict__ out) {
  MRC_GRID_LOOP(i, count) {
    const float hi = (i % 2) ? height : width;
    float v = in[i];
    v = v < 0.f ? 0.f : v;
    out[i] = v > hi ? hi : v;
  }
}

__global__ void large_enough_kernel(const float* __restrict__ boxes, int64_t n, float min_size,
                                    uint8_t* __restrict__ flags) {
  MRC_GRID_LOOP(i, n) {
    const float* b = boxes + 4 * i;
    flags[i] = b[2] - b[0] >= min_size && b[3] - b[1] >= min_size;
  }
}

__global__ void iota_kernel(int64_t* __restrict__ out, int64_t n) {
  MRC_GRID_LOOP(i, n) { out[i] = i; }
}

// torch's max: first maximum, or the first NaN (which ends the scan).
__device__ bool replaces_max(float v, float best) { return !(v <= best) && best == best; }

__global__ void column_best_kernel(const float* __restrict__ q, int64_t m, int64_t n, float low, float high,
                                   int64_t* __restrict__ matches, int64_t* __restrict__ best_gt) {
  MRC_GRID_LOOP(j, n) {
    float best = q[j];
    int64_t arg = 0;
    for (int64_t r = 1; r < m; ++r)
      if (replaces_max(q[r * n + j], best)) {
        best = q[r * n + j];
        arg = r;
      }
    best_gt[j] = arg;
    matches[j] = best < low ? kBelowLowThreshold : (best < high ? kBetweenThresholds : arg);
  }
}

__global__ void row_best_kernel(const float* __restrict__ q, int64_t n, float* __restrict__ highest) {
  __shared__ float partial[256];
  const float* row = q + blockIdx.x * n;
  float best = row[0];
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    if (replaces_max(row[j], best)) best = row[j];
  partial[threadIdx.x] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int t = 1; t < int(blockDim.x); ++t)
      if (replaces_max(partial[t], best)) best = partial[t];
    highest[blockIdx.x] = best;
  }
}

__global__ void restore_kernel(const float* __restrict__ q, int64_t m, int64_t n, const float* __restrict__ highest,
                               const int64_t* __restrict__ best_gt, int64_t* __restrict__ matches) {
  MRC_GRID_LOOP(j, n) {
    if (matches[j] >= 0) continue;
    for (int64_t r = 0; r < m; ++r)
      if (q[r * n + j] == highest[r]) {
        matches[j] = best_gt[j];
        break;
      }
  }
}

void check_launch(const char* where) { check(cudaGetLastError(), where); }

}  // namespace

void box_iou_cuda(const float* a, int64_t n, const float* b, int64_t m, float* out, GpuStream stream) {
  if (n <= 0 || m <= 0) return;
  box_iou_kernel<<<blocks_for(n * m, 256), 256, 0, stream>>>(a, n, b, m, out);
  check_launch("box_iou_cuda");
}

void encode_boxes_cuda(const float* reference, const float* proposals, int64_t n, const BoxCoderWeights& w,
                       float* deltas, GpuStream stream) {
  if (n <= 0) return;
  encode_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(reference, proposals, n, w, deltas);
  check_launch("encode_boxes_cuda");
}

void decode_boxes_cuda(const float* deltas, const float* boxes, int64_t n, int64_t k, const BoxCoderWeights& w,
                       float* out, GpuStream stream, double clip) {
  if (n <= 0 || k <= 0) return;
  decode_kernel<<<blocks_for(n * k, 256), 256, 0, stream>>>(deltas, boxes, n, k, w, float(clip), out);
  check_launch("decode_boxes_cuda");
}

void clip_boxes_cuda(const float* in, int64_t rows, int64_t height, int64_t width, float* out, GpuStream stream) {
  if (rows <= 0) return;
  clip_kernel<<<blocks_for(4 * rows, 256), 256, 0, stream>>>(in, 4 * rows, float(height), float(width), out);
  check_launch("clip_boxes_cuda");
}

int64_t remove_small_boxes_cuda(const float* boxes, int64_t n, double min_size, int64_t* keep, GpuStream stream) {
  if (n <= 0) return 0;
  uint8_t* flags = nullptr;
  int64_t *ids = nullptr, *count = nullptr;
  void* temp = nullptr;
  size_t temp_bytes = 0;
  check(cudaMallocAsync(&flags, size_t(n), stream), "remove_small_boxes_cuda: flags");
  check(cudaMallocAsync(&ids, sizeof(int64_t) * size_t(n), stream), "remove_small_boxes_cuda: indices");
  check(cudaMallocAsync(&count, sizeof(int64_t), stream), "remove_small_boxes_cuda: count");
  large_enough_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(boxes, n, float(min_size), flags);
  iota_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(ids, n);
  check_launch("remove_small_boxes_cuda: launch");
  check(cub::DeviceSelect::Flagged(nullptr, temp_bytes, ids, flags, keep, count, n, stream), "select size");
  check(cudaMallocAsync(&temp, temp_bytes, stream), "remove_small_boxes_cuda: scratch");
  check(cub::DeviceSelect::Flagged(temp, temp_bytes, ids, flags, keep, count, n, stream), "select");
  int64_t kept = 0;
  check(cudaMemcpyAsync(&kept, count, sizeof(int64_t), cudaMemcpyDeviceToHost, stream), "copy count");
  for (void* p : {static_cast<void*>(flags), static_cast<void*>(ids), static_cast<void*>(count), temp})
    cudaFreeAsync(p, stream);
  check(cudaStreamSynchronize(stream), "remove_small_boxes_cuda");
  return kept;
}

void match_cuda(const float* quality, int64_t m, int64_t n, const MatcherParams& p, int64_t* matches,
                GpuStream stream) {
  if (m <= 0) throw std::runtime_error("match_cuda: No ground-truth boxes available for one of the images during training");
  if (n <= 0) throw std::runtime_error("match_cuda: No proposal boxes available for one of the images during training");
  if (p.low_threshold > p.high_threshold)
    throw std::runtime_error("match_cuda: low_threshold should be <= high_threshold");
  int64_t* best_gt = nullptr;
  float* highest = nullptr;
  check(cudaMallocAsync(&best_gt, sizeof(int64_t) * size_t(n), stream), "match_cuda: scratch");
  column_best_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(quality, m, n, float(p.low_threshold),
                                                             float(p.high_threshold), matches, best_gt);
  if (p.allow_low_quality_matches) {
    check(cudaMallocAsync(&highest, sizeof(float) * size_t(m), stream), "match_cuda: scratch");
    row_best_kernel<<<int(m), 256, 0, stream>>>(quality, n, highest);
    restore_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(quality, m, n, highest, best_gt, matches);
    cudaFreeAsync(highest, stream);
  }
  cudaFreeAsync(best_gt, stream);
  check_launch("match_cuda");
}

}  // namespace mrc::kernels
