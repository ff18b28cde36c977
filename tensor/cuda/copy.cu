// CUDA copies: strided device-to-device copy with dtype conversion, fill, and host<->device transfers
// staged through a ring of pinned buffers per device so that uploads overlap with the host's next memcpy
// and never read host memory the caller may free as soon as the call returns.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "tensor/copy.h"
#include "tensor/host_sync.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

// The core dtypes of MRC_DISPATCH_ALL plus the two 16-bit floats (storage types on CUDA).
#define MRC_CUDA_DISPATCH_STORAGE(DTYPE, NAME, ...)                            \
  [&] {                                                                        \
    switch (DTYPE) {                                                           \
      MRC_DISPATCH_CORE_CASES(__VA_ARGS__)                                     \
      MRC_DISPATCH_CASE(::mrc::DType::BFloat16, __nv_bfloat16, __VA_ARGS__)    \
      MRC_DISPATCH_CASE(::mrc::DType::Float16, __half, __VA_ARGS__)            \
      default: ::mrc::throw_unsupported_dtype(NAME, DTYPE);                    \
    }                                                                          \
  }()

template <class T>
constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

template <class O>
__device__ __forceinline__ O half_from(float f) {
  if constexpr (std::is_same_v<O, __half>) return __float2half_rn(f);
  else return __float2bfloat16_rn(f);
}

// Same rounding as the host's static_cast for the five core dtypes; 16-bit floats go through float
// (double through the direct round-to-nearest conversion).
template <class O, class I>
__device__ __forceinline__ O convert(I x) {
  if constexpr (std::is_same_v<O, I>) {
    return x;
  } else if constexpr (is_half_v<I>) {
    float f;
    if constexpr (std::is_same_v<I, __half>) f = __half2float(x);
    else f = __bfloat162float(x);
    if constexpr (is_half_v<O>) return half_from<O>(f);
    else return static_cast<O>(f);
  } else if constexpr (is_half_v<O>) {
    if constexpr (std::is_same_v<I, double>) {
      if constexpr (std::is_same_v<O, __half>) return __double2half(x);
      else return __double2bfloat16(x);
    } else {
      return half_from<O>(static_cast<float>(x));
    }
  } else {
    return static_cast<O>(x);
  }
}

template <class O, class I>
struct ConvertFn {
  __device__ O operator()(I x) const { return convert<O, I>(x); }
};

template <class T>
struct FillFn {
  T value;
  __device__ T operator()() const { return value; }
};

template <class T>
T host_value(double v) {
  if constexpr (std::is_same_v<T, __half>) return __double2half(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __double2bfloat16(v);
  else return static_cast<T>(v);
}

// A ring of pinned buffers per device, taken in turn across calls; an event per buffer marks when the
// copy that last used it has finished, so the host never overwrites a buffer a queued copy still reads.
// An upload waits only for the copy kRing uploads back (the index carries over from call to call), so a
// run of small uploads queues behind the device's work instead of waiting for it.
constexpr size_t kChunk = size_t(16) << 20;
constexpr int kRing = 8;

struct Staging {
  std::mutex mutex;
  void* buf[kRing] = {};
  cudaEvent_t done[kRing] = {};
  size_t capacity = 0;
  int next = 0;  // the buffer the next chunk takes
};

Staging& staging(int device) {
  static auto* all = new std::vector<std::unique_ptr<Staging>>();
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  check_device_index(device);
  if (all->size() <= size_t(device)) all->resize(size_t(device) + 1);
  auto& s = (*all)[size_t(device)];
  if (!s) s = std::make_unique<Staging>();
  return *s;
}

// Makes every buffer hold at least min(nbytes, kChunk) bytes. Caller holds s.mutex and the device guard.
void reserve(Staging& s, size_t nbytes) {
  if (!s.done[0])
    for (auto& e : s.done) MRC_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  const size_t want = std::min(nbytes, kChunk);
  if (want <= s.capacity) return;
  size_t cap = size_t(1) << 20;
  while (cap < want) cap *= 2;
  for (int b = 0; b < kRing; ++b) {
    MRC_CUDA_CHECK(cudaEventSynchronize(s.done[b]));
    if (s.buf[b]) MRC_CUDA_CHECK(cudaFreeHost(s.buf[b]));
    s.buf[b] = nullptr;
  }
  s.capacity = 0;
  for (int b = 0; b < kRing; ++b) MRC_CUDA_CHECK(cudaHostAlloc(&s.buf[b], cap, cudaHostAllocDefault));
  s.capacity = cap;
}

// The next buffer of the ring, once the copy that last used it has finished.
int take(Staging& s) {
  const int b = s.next;
  s.next = (s.next + 1) % kRing;
  MRC_CUDA_CHECK(cudaEventSynchronize(s.done[b]));
  return b;
}

// Runs f(staging buffers, stream) for a transfer of nbytes on `device`, holding the buffers' lock with
// the device current and the buffers large enough for the transfer's chunks.
template <class F>
void with_staging(int device, size_t nbytes, F&& f) {
  if (nbytes == 0) return;
  Staging& s = staging(device);
  std::lock_guard<std::mutex> lock(s.mutex);
  DeviceGuard guard(device);
  // A graph would replay the copy from whatever the staging buffer holds then (tensor/cuda/graph.h)
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  MRC_CUDA_CHECK(cudaStreamIsCapturing(current_stream(device), &capturing));
  if (capturing != cudaStreamCaptureStatusNone)
    throw std::runtime_error("CUDA graph capture: a transfer of " + std::to_string(nbytes) +
                             " bytes between host and device inside the captured work; move it before the capture");
  reserve(s, nbytes);
  f(s, current_stream(device));
}

}  // namespace

void copy_strided(const Tensor& src, const Tensor& dst) {
  if (dst.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    const int device = dst.device().index;
    DeviceGuard guard(device);
    MRC_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), dst.nbytes(), cudaMemcpyDeviceToDevice,
                                   current_stream(device)));
    return;
  }
  MRC_CUDA_DISPATCH_STORAGE(dst.dtype(), "copy", [&] {
    using O = scalar_t;
    MRC_CUDA_DISPATCH_STORAGE(src.dtype(), "copy", [&] {
      using I = scalar_t;
      launch_elementwise<O, I>(dst, {src}, ConvertFn<O, I>{});
    });
  });
}

void fill_strided(const Tensor& dst, double value) {
  MRC_CUDA_DISPATCH_STORAGE(dst.dtype(), "fill", [&] {
    launch_elementwise<scalar_t>(dst, {}, FillFn<scalar_t>{host_value<scalar_t>(value)});
  });
}

void copy_host_to_device(const void* host, void* dev, size_t nbytes, int device) {
  with_staging(device, nbytes, [&](Staging& s, cudaStream_t stream) {
    for (size_t off = 0; off < nbytes; off += s.capacity) {
      const size_t len = std::min(s.capacity, nbytes - off);
      const int b = take(s);
      std::memcpy(s.buf[b], static_cast<const char*>(host) + off, len);
      MRC_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dev) + off, s.buf[b], len, cudaMemcpyHostToDevice, stream));
      MRC_CUDA_CHECK(cudaEventRecord(s.done[b], stream));
    }
  });
}

void copy_device_to_host(const void* dev, void* host, size_t nbytes, int device) {
  if (nbytes == 0) return;
  count_host_sync();
  with_staging(device, nbytes, [&](Staging& s, cudaStream_t stream) {
    // Chunk k+1 is queued before the host drains chunk k (two ring buffers in flight).
    const size_t chunks = (nbytes + s.capacity - 1) / s.capacity;
    int buf[2] = {-1, -1};
    auto issue = [&](size_t k) {
      const size_t off = k * s.capacity, len = std::min(s.capacity, nbytes - off);
      const int b = take(s);
      buf[k % 2] = b;
      MRC_CUDA_CHECK(cudaMemcpyAsync(s.buf[b], static_cast<const char*>(dev) + off, len, cudaMemcpyDeviceToHost, stream));
      MRC_CUDA_CHECK(cudaEventRecord(s.done[b], stream));
    };
    issue(0);
    for (size_t k = 0; k < chunks; ++k) {
      if (k + 1 < chunks) issue(k + 1);
      const size_t off = k * s.capacity, len = std::min(s.capacity, nbytes - off);
      const int b = buf[k % 2];
      MRC_CUDA_CHECK(cudaEventSynchronize(s.done[b]));
      std::memcpy(static_cast<char*>(host) + off, s.buf[b], len);
    }
  });
}

}  // namespace mrc::cuda
