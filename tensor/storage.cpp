// Storage allocation for both devices, and the CPU side of the device helpers.
#include "tensor/storage.h"

#include <omp.h>

#include <cstdlib>
#include <new>
#include <stdexcept>

#include "tensor/parallel.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/allocator.h"
#endif

namespace mrc {

void* cpu_alloc(size_t nbytes) {
  if (nbytes == 0) nbytes = 64;
  const size_t rounded = (nbytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}

void cpu_free(void* p) { std::free(p); }

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    data_ = cpu_alloc(nbytes);
  } else {
#ifdef MRC_WITH_CUDA
    data_ = cuda::CachingAllocator::get().allocate(nbytes, device.index);
#else
    throw_not_built_with_cuda("allocating CUDA memory");
#endif
  }
}

Storage::~Storage() {
  if (device_.is_cpu()) {
    cpu_free(data_);
  } else {
#ifdef MRC_WITH_CUDA
    cuda::CachingAllocator::get().release(data_, device_.index);
#endif
  }
}

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    try {
      return cuda(std::stoi(s.substr(5)));
    } catch (const std::exception&) {
    }
  }
  throw std::invalid_argument("unknown device '" + s + "': expected cpu, cuda or cuda:N");
}

bool built_with_cuda() {
#ifdef MRC_WITH_CUDA
  return true;
#else
  return false;
#endif
}

void throw_not_built_with_cuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": maskrcnn.cpp was not built with CUDA (configure with -DMRC_CUDA=ON)");
}

#ifndef MRC_WITH_CUDA
bool cuda_available() { return false; }
int cuda_device_count() { return 0; }
#endif

static int g_threads = 0;
int num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }
void set_num_threads(int n) { g_threads = n; }

}  // namespace mrc
