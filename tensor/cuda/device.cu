// Device queries of tensor/device.h (no driver or no GPU means "no CUDA", never an error), the device
// guard, and the error reporters behind the MRC_*_CHECK macros.
#include <string>

#include "tensor/cuda/context.h"
#include "tensor/device.h"

namespace mrc {

namespace {

// Without a driver (CI) or a device, the runtime reports an error: that means "no CUDA", not a failure.
int query_device_count() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

}  // namespace

int cuda_device_count() {
  static const int count = query_device_count();
  return count;
}

bool cuda_available() { return cuda_device_count() > 0; }

namespace cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": CUDA error " + cudaGetErrorName(err) +
                           " (" + cudaGetErrorString(err) + ") in " + expr);
}

[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": cuBLAS error " +
                           cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ") in " + expr);
}

[[noreturn]] void throw_cudnn_error(cudnnStatus_t st, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": cuDNN error " +
                           cudnnGetErrorString(st) + " in " + expr);
}

void check_device_index(int device) {
  const int n = cuda_device_count();
  if (device < 0 || device >= n)
    throw std::invalid_argument("cuda:" + std::to_string(device) + " is not a visible CUDA device (" +
                                std::to_string(n) + " visible)");
}

DeviceGuard::DeviceGuard(int device) {
  MRC_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) MRC_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int now = -1;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_ && previous_ >= 0) (void)cudaSetDevice(previous_);
}

}  // namespace cuda
}  // namespace mrc
