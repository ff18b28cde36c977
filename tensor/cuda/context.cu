// Lazily created per-device CUDA state: streams, cuBLAS / cuDNN handles, device properties, TF32 switch.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/cuda/autocast.h"
#include "tensor/cuda/context.h"
#include "tensor/device.h"

namespace mrc::cuda {

namespace {

struct PerDevice {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  std::unique_ptr<cudaDeviceProp> props;
};

std::mutex g_mutex;
std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_autocast_bf16{false};
std::atomic<bool> g_cudnn_benchmark{false};
std::atomic<bool> g_cudnn_deterministic{true};

// Never destroyed: handles may be used by tensors freed during static teardown, and destroying CUDA
// objects after the runtime has unloaded fails.
std::vector<PerDevice>& per_device() {
  static auto* v = new std::vector<PerDevice>();
  return *v;
}

PerDevice& slot(int device) {  // caller holds g_mutex
  check_device_index(device);
  auto& v = per_device();
  if (v.size() < size_t(cuda_device_count())) v.resize(size_t(cuda_device_count()));
  return v[size_t(device)];
}

cudaStream_t stream_locked(int device) {
  PerDevice& d = slot(device);
  if (!d.stream) {
    DeviceGuard guard(device);
    MRC_CUDA_CHECK(cudaStreamCreateWithFlags(&d.stream, cudaStreamDefault));
  }
  return d.stream;
}

}  // namespace

cudaStream_t current_stream(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return stream_locked(device);
}

namespace {

// The library handle `member` of a device, created on first use (caller holds g_mutex) by
// create(handle&, stream) with the device current; stored only once fully set up.
template <class Handle, class Create>
Handle handle_locked(int device, Handle PerDevice::*member, Create create) {
  PerDevice& d = slot(device);
  if (!(d.*member)) {
    const cudaStream_t s = stream_locked(device);
    DeviceGuard guard(device);
    Handle h = nullptr;
    create(h, s);
    d.*member = h;
  }
  return d.*member;
}

}  // namespace

cublasHandle_t cublas_handle(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const cublasHandle_t h = handle_locked(device, &PerDevice::cublas, [](cublasHandle_t& c, cudaStream_t s) {
    MRC_CUBLAS_CHECK(cublasCreate(&c));
    MRC_CUBLAS_CHECK(cublasSetStream(c, s));
    MRC_CUBLAS_CHECK(cublasSetPointerMode(c, CUBLAS_POINTER_MODE_HOST));
  });
  MRC_CUBLAS_CHECK(cublasSetMathMode(h, g_allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return h;
}

cudnnHandle_t cudnn_handle(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return handle_locked(device, &PerDevice::cudnn, [](cudnnHandle_t& c, cudaStream_t s) {
    MRC_CUDNN_CHECK(cudnnCreate(&c));
    MRC_CUDNN_CHECK(cudnnSetStream(c, s));
  });
}

const cudaDeviceProp& device_properties(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  PerDevice& d = slot(device);
  if (!d.props) {
    auto p = std::make_unique<cudaDeviceProp>();
    MRC_CUDA_CHECK(cudaGetDeviceProperties(p.get(), device));
    d.props = std::move(p);
  }
  return *d.props;
}

int sm_count(int device) { return device_properties(device).multiProcessorCount; }

void synchronize(int device) { MRC_CUDA_CHECK(cudaStreamSynchronize(current_stream(device))); }

bool allow_tf32() { return g_allow_tf32; }
void set_allow_tf32(bool on) { g_allow_tf32 = on; }
bool autocast_bf16() { return g_autocast_bf16; }
void set_autocast_bf16(bool on) { g_autocast_bf16 = on; }
bool cudnn_benchmark() { return g_cudnn_benchmark; }
void set_cudnn_benchmark(bool on) { g_cudnn_benchmark = on; }
bool cudnn_deterministic() { return g_cudnn_deterministic; }
void set_cudnn_deterministic(bool on) { g_cudnn_deterministic = on; }

}  // namespace mrc::cuda
