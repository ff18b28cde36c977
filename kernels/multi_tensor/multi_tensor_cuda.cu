// Multi-tensor SGD and Adam on CUDA (see multi_tensor.h): the list goes to the kernel by value in chunks
// of kChunk tensors; blockIdx.y picks the tensor, a grid-stride loop over x covers its elements.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/multi_tensor/multi_tensor.h"

namespace mrc::kernels {
namespace {

constexpr int kChunk = 32;
constexpr int kThreads = 256;

// A chunk of the list, passed by value (32 Adam entries: about 2.5 KB of kernel parameters, under 4 KB).
template <class T>
struct Chunk {
  T t[kChunk];
};
using SgdChunk = Chunk<SgdTensor>;
using AdamChunk = Chunk<AdamTensor>;

__global__ void sgd_chunk_kernel(SgdChunk c, SgdHyper h) {
  const SgdTensor& t = c.t[blockIdx.y];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < t.n; i += int64_t(gridDim.x) * blockDim.x) {
    float d = t.grad[i];
    if (h.weight_decay != 0.f) d = __fadd_rn(d, __fmul_rn(h.weight_decay, t.param[i]));
    if (h.momentum != 0.f) {
      const float b = t.first ? d : __fadd_rn(__fmul_rn(t.momentum_buffer[i], h.momentum), __fmul_rn(h.one_minus_dampening, d));
      t.momentum_buffer[i] = b;
      d = h.nesterov ? __fadd_rn(d, __fmul_rn(h.momentum, b)) : b;
    }
    t.param[i] = __fadd_rn(t.param[i], __fmul_rn(h.neg_lr, d));
  }
}

__global__ void adam_chunk_kernel(AdamChunk c, AdamHyper h) {
  const AdamTensor& t = c.t[blockIdx.y];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < t.n; i += int64_t(gridDim.x) * blockDim.x)
    adam_element(t, h, i);
}

// Splits the list into chunks and launches `launch(chunk, grid)` for each non-empty one.
template <class T, class Launch>
void for_each_chunk(const std::vector<T>& tensors, const char* what, Launch launch) {
  for (size_t start = 0; start < tensors.size(); start += kChunk) {
    const int count = int(std::min<size_t>(kChunk, tensors.size() - start));
    Chunk<T> c{};
    int64_t longest = 0;
    for (int k = 0; k < count; ++k) {
      c.t[k] = tensors[start + size_t(k)];
      longest = std::max(longest, c.t[k].n);
    }
    if (longest == 0) continue;
    const int blocks = int(std::min<int64_t>((longest + kThreads - 1) / kThreads, 1024));
    launch(c, dim3(unsigned(blocks), unsigned(count)));
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": launch: " + cudaGetErrorString(e));
  }
}

}  // namespace

void sgd_multi_tensor_cuda(const std::vector<SgdTensor>& tensors, const SgdHyper& h, GpuStream stream) {
  for_each_chunk(tensors, "sgd_multi_tensor_cuda",
                 [&](const SgdChunk& c, dim3 grid) { sgd_chunk_kernel<<<grid, kThreads, 0, stream>>>(c, h); });
}

void adam_multi_tensor_cuda(const std::vector<AdamTensor>& tensors, const AdamHyper& h, GpuStream stream) {
  for_each_chunk(tensors, "adam_multi_tensor_cuda",
                 [&](const AdamChunk& c, dim3 grid) { adam_chunk_kernel<<<grid, kThreads, 0, stream>>>(c, h); });
}

}  // namespace mrc::kernels
