// NMS on CUDA: CUB radix sort of the scores (stable, so ties go by index), a 64 x 64-box bitmask of
// "IoU > threshold" pairs over the upper triangle, then one block walking the 64-box column blocks in
// order: a warp resolves each diagonal block serially, the block ORs the kept rows into the rest.
#include <cub/device/device_radix_sort.cuh>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/detection_math.h"
#include "kernels/nms/nms.h"

namespace mrc::kernels {
namespace {

constexpr int kBlock = 64;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("nms_cuda: ") + what + ": " + cudaGetErrorString(e));
}

// Stream-ordered scratch memory, freed on scope exit.
struct Scratch {
  void* ptr = nullptr;
  cudaStream_t stream;
  Scratch(size_t bytes, cudaStream_t s, const char* what) : stream(s) {
    if (bytes) check(cudaMallocAsync(&ptr, bytes, s), what);
  }
  ~Scratch() {
    if (ptr) cudaFreeAsync(ptr, stream);
  }
  template <class T>
  T* as() const { return static_cast<T*>(ptr); }
};

// Sort keys: -0 becomes +0 and every NaN the same positive NaN, so the radix order equals the
// comparison order torch's sort uses (NaN first, equal keys by index).
__global__ void sort_keys_kernel(const float* __restrict__ scores, int n, float* __restrict__ keys, int* __restrict__ iota) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float s = scores[i];
  keys[i] = s != s ? __int_as_float(0x7fc00000) : s + 0.f;
  iota[i] = i;
}

__global__ void gather_kernel(const float* __restrict__ boxes, const int64_t* __restrict__ cats,
                              const int* __restrict__ order, int n, float4* __restrict__ sorted,
                              float* __restrict__ areas, int64_t* __restrict__ sorted_cats) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float* b = boxes + 4 * int64_t(order[i]);
  sorted[i] = make_float4(b[0], b[1], b[2], b[3]);
  areas[i] = box_area(b);
  if (cats) sorted_cats[i] = cats[order[i]];
}

// Bit j of mask[i * col_blocks + cb] says box i suppresses box cb * 64 + j (both in score order, j > i).
__global__ void mask_kernel(const float4* __restrict__ boxes, const float* __restrict__ areas,
                            const int64_t* __restrict__ cats, int n, int col_blocks, float threshold,
                            unsigned long long* __restrict__ mask) {
  const int row_block = blockIdx.y, col_block = blockIdx.x;
  if (row_block > col_block) return;
  const int row_size = min(n - row_block * kBlock, kBlock), col_size = min(n - col_block * kBlock, kBlock);
  __shared__ float4 cb[kBlock];
  __shared__ float ca[kBlock];
  __shared__ int64_t cc[kBlock];
  if (int(threadIdx.x) < col_size) {
    const int j = col_block * kBlock + threadIdx.x;
    cb[threadIdx.x] = boxes[j];
    ca[threadIdx.x] = areas[j];
    cc[threadIdx.x] = cats ? cats[j] : 0;
  }
  __syncthreads();
  if (int(threadIdx.x) >= row_size) return;
  const int i = row_block * kBlock + threadIdx.x;
  const float4 a = boxes[i];
  const float aa = areas[i];
  const int64_t ac = cats ? cats[i] : 0;
  unsigned long long bits = 0;
  for (int j = row_block == col_block ? int(threadIdx.x) + 1 : 0; j < col_size; ++j) {
    if (cc[j] != ac) continue;
    const float4 b = cb[j];
    if (box_iou(a.x, a.y, a.z, a.w, aa, b.x, b.y, b.z, b.w, ca[j]) > threshold) bits |= 1ull << j;
  }
  mask[int64_t(i) * col_blocks + col_block] = bits;
}

// The kept boxes in score order to keep (and their count to num_kept), or, with kept_mask, a 1 at each kept
// box's index (kept_mask zeroed beforehand).
__global__ void reduce_kernel(const unsigned long long* __restrict__ mask, int n, int col_blocks,
                              const int* __restrict__ order, int64_t* __restrict__ keep, int* __restrict__ num_kept,
                              uint8_t* __restrict__ kept_mask) {
  extern __shared__ unsigned long long removed[];
  __shared__ unsigned long long kept_bits;
  __shared__ int count;
  for (int w = threadIdx.x; w < col_blocks; w += blockDim.x) removed[w] = 0;
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  for (int cbk = 0; cbk < col_blocks; ++cbk) {
    const int base = cbk * kBlock, size = min(n - base, kBlock);
    if (threadIdx.x < 32) {
      const int lane = threadIdx.x;
      const unsigned long long d0 = lane < size ? mask[int64_t(base + lane) * col_blocks + cbk] : 0ull;
      const unsigned long long d1 = lane + 32 < size ? mask[int64_t(base + lane + 32) * col_blocks + cbk] : 0ull;
      unsigned long long rem = removed[cbk], kept = 0;
      for (int i = 0; i < size; ++i) {
        const unsigned long long di = __shfl_sync(0xffffffffu, i < 32 ? d0 : d1, i & 31);
        if (!((rem >> i) & 1ull)) {
          kept |= 1ull << i;
          rem |= di;
        }
      }
      if (lane == 0) kept_bits = kept;
    }
    __syncthreads();
    const unsigned long long kept = kept_bits;
    if (kept_mask) {
      if (int(threadIdx.x) < size && ((kept >> threadIdx.x) & 1ull)) kept_mask[order[base + threadIdx.x]] = 1;
    } else if (threadIdx.x == 0) {
      int c = count;
      for (unsigned long long k = kept; k; k &= k - 1) keep[c++] = order[base + __ffsll(k) - 1];
      count = c;
    }
    if (kept)
      for (int w = cbk + 1 + threadIdx.x; w < col_blocks; w += blockDim.x) {
        unsigned long long acc = 0;
        for (unsigned long long k = kept; k; k &= k - 1) acc |= mask[int64_t(base + __ffsll(k) - 1) * col_blocks + w];
        removed[w] |= acc;
      }
    __syncthreads();
  }
  if (threadIdx.x == 0 && num_kept) *num_kept = count;
}

// torchvision's coordinate trick: boxes + idx * (max coordinate + 1). One block (n <= 1000 here).
__global__ void offset_boxes_kernel(const float* __restrict__ boxes, const int64_t* __restrict__ idxs, int n,
                                    float* __restrict__ out) {
  __shared__ float partial[1024];
  float m = -INFINITY;
  for (int i = threadIdx.x; i < 4 * n; i += blockDim.x) m = fmaxf(m, boxes[i]);
  partial[threadIdx.x] = m;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (int(threadIdx.x) < s) partial[threadIdx.x] = fmaxf(partial[threadIdx.x], partial[threadIdx.x + s]);
    __syncthreads();
  }
  const float span = partial[0] + 1.f;
  for (int i = threadIdx.x; i < 4 * n; i += blockDim.x) out[i] = boxes[i] + mul_rn(float(idxs[i / 4]), span);
}

// The kept indices to keep and their count (a synchronisation of `stream`), or, with kept_mask, the kept
// mask queued on `stream` (returns 0, reads nothing back).
int64_t run_nms(const float* boxes, const float* scores, const int64_t* cats, int64_t n64, double iou_threshold,
                int64_t* keep, cudaStream_t stream, uint8_t* kept_mask = nullptr) {
  if (n64 < 0) throw std::runtime_error("nms_cuda: number of boxes must be >= 0, got " + std::to_string(n64));
  if (n64 == 0) return 0;
  if (n64 > (int64_t(1) << 31) - 1) throw std::runtime_error("nms_cuda: more than 2^31 boxes");
  const int n = int(n64), col_blocks = int((n64 + kBlock - 1) / kBlock);  // n + 63 may not fit in an int
  const size_t shared = size_t(col_blocks) * sizeof(unsigned long long);
  int device = 0, max_shared = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "attribute");
  if (shared > size_t(max_shared) - 64)
    throw std::runtime_error("nms_cuda: " + std::to_string(n) + " boxes exceed what one block can reduce (" +
                             std::to_string((max_shared - 64) / 8 * kBlock) + ")");
  if (shared > 48 * 1024)
    check(cudaFuncSetAttribute(reduce_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)), "smem");

  Scratch keys(sizeof(float) * 2 * n, stream, "keys"), ids(sizeof(int) * 2 * n, stream, "indices");
  const int threads = 256, blocks = int((n64 + threads - 1) / threads);
  sort_keys_kernel<<<blocks, threads, 0, stream>>>(scores, n, keys.as<float>(), ids.as<int>());
  size_t temp_bytes = 0;
  check(cub::DeviceRadixSort::SortPairsDescending(nullptr, temp_bytes, keys.as<float>(), keys.as<float>() + n,
                                                  ids.as<int>(), ids.as<int>() + n, n, 0, 32, stream),
        "sort size");
  Scratch temp(temp_bytes, stream, "sort scratch");
  check(cub::DeviceRadixSort::SortPairsDescending(temp.ptr, temp_bytes, keys.as<float>(), keys.as<float>() + n,
                                                  ids.as<int>(), ids.as<int>() + n, n, 0, 32, stream),
        "sort");
  const int* order = ids.as<int>() + n;
  Scratch sorted(sizeof(float4) * n, stream, "sorted boxes"), areas(sizeof(float) * n, stream, "areas");
  Scratch scats(cats ? sizeof(int64_t) * n : 0, stream, "categories");
  gather_kernel<<<blocks, threads, 0, stream>>>(boxes, cats, order, n, sorted.as<float4>(), areas.as<float>(),
                                                scats.as<int64_t>());
  Scratch mask(sizeof(unsigned long long) * size_t(n) * size_t(col_blocks), stream,
               "the n * ceil(n / 64) * 8-byte suppression mask");
  const float threshold = iou_threshold_for(0.f, iou_threshold);
  mask_kernel<<<dim3(col_blocks, col_blocks), kBlock, 0, stream>>>(
      sorted.as<float4>(), areas.as<float>(), scats.as<int64_t>(), n, col_blocks, threshold,
      mask.as<unsigned long long>());
  if (kept_mask) {
    check(cudaMemsetAsync(kept_mask, 0, size_t(n), stream), "clear the kept mask");
    reduce_kernel<<<1, 1024, shared, stream>>>(mask.as<unsigned long long>(), n, col_blocks, order, nullptr, nullptr,
                                               kept_mask);
    check(cudaGetLastError(), "kernel launch");
    return 0;
  }
  Scratch count(sizeof(int), stream, "count");
  reduce_kernel<<<1, 1024, shared, stream>>>(mask.as<unsigned long long>(), n, col_blocks, order, keep,
                                             count.as<int>(), nullptr);
  check(cudaGetLastError(), "kernel launch");
  int kept = 0;
  check(cudaMemcpyAsync(&kept, count.ptr, sizeof(int), cudaMemcpyDeviceToHost, stream), "copy count");
  check(cudaStreamSynchronize(stream), "synchronize");
  return kept;
}

}  // namespace

int64_t nms_cuda(const float* boxes, const float* scores, int64_t n, double iou_threshold, int64_t* keep,
                 GpuStream stream) {
  return run_nms(boxes, scores, nullptr, n, iou_threshold, keep, stream);
}

int64_t batched_nms_cuda(const float* boxes, const float* scores, const int64_t* idxs, int64_t n,
                         double iou_threshold, int64_t* keep, GpuStream stream) {
  if (n <= 0) return run_nms(boxes, scores, nullptr, n, iou_threshold, keep, stream);
  if (n > kBatchedNmsPerCategoryAbove) return run_nms(boxes, scores, idxs, n, iou_threshold, keep, stream);
  Scratch shifted(sizeof(float) * 4 * size_t(n), stream, "offset boxes");
  offset_boxes_kernel<<<1, 1024, 0, stream>>>(boxes, idxs, int(n), shifted.as<float>());
  return run_nms(shifted.as<float>(), scores, nullptr, n, iou_threshold, keep, stream);
}

void batched_nms_mask_cuda(const float* boxes, const float* scores, const int64_t* idxs, int64_t n,
                           double iou_threshold, uint8_t* kept, GpuStream stream) {
  if (n > 0) run_nms(boxes, scores, idxs, n, iou_threshold, nullptr, stream, kept);
}

}  // namespace mrc::kernels
