// Per-device CUDA state shared by every CUDA kernel of the library: the stream all work is queued on,
// the cuBLAS and cuDNN handles bound to it, device properties, and a guard that switches the current
// device for a scope. Everything is created lazily on first use and lives until the process exits.
//
// One stream per device orders every kernel, copy and library call of that device, which is what lets
// the caching allocator hand a freed block to the next tensor at once. The stream is a blocking one, so
// code that launches on the legacy default stream (stream 0) stays ordered with it too.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "tensor/cuda/cuda_check.h"

namespace mrc::cuda {

// Sets the current device for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

cudaStream_t current_stream(int device);
cublasHandle_t cublas_handle(int device);  // math mode follows allow_tf32()
cudnnHandle_t cudnn_handle(int device);
const cudaDeviceProp& device_properties(int device);
int sm_count(int device);
void synchronize(int device);  // waits for the device's stream

// TF32 tensor-core math for float32 GEMM and convolution: off by default so results match the CPU.
bool allow_tf32();
void set_allow_tf32(bool on);

// cuDNN convolution algorithm choice, made once per shape: by cuDNN's heuristics (default) or by timing
// every candidate (benchmark); deterministic algorithms only unless that is switched off.
bool cudnn_benchmark();
void set_cudnn_benchmark(bool on);
bool cudnn_deterministic();
void set_cudnn_deterministic(bool on);

// Throws std::invalid_argument unless `device` names a visible CUDA device.
void check_device_index(int device);

}  // namespace mrc::cuda
