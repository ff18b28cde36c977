// A reference-counted block of memory on one device, with a version counter that in-place writes bump
// (autograd uses it to detect a saved tensor that changed before backward).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace mrc {

class Storage {
 public:
  Storage(size_t nbytes, Device device);   // allocates through the device's allocator
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
};

// CPU memory: 64-byte aligned. CUDA memory: the caching allocator (tensor/cuda/allocator.h).
void* cpu_alloc(size_t nbytes);
void cpu_free(void* p);

}  // namespace mrc
