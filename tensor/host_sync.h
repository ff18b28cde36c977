// Device-to-host reads that make the host wait for the device queue on CUDA: Tensor::item() and
// to_vector(), a copy to the host, the sizes of data-dependent results (nonzero, nms, remove_small_boxes).
// Each is counted on every device, so a test on the CPU counts what the same step would wait for on CUDA
// (one count per read; a read of a tensor that would live on the host on CUDA too is counted as well, so
// the CPU count is an upper bound).
#pragma once
#include <cstdint>

namespace mrc {

void count_host_sync();      // one more read
int64_t host_sync_count();   // reads so far, all threads

// The reads made between construction and count().
class HostSyncScope {
 public:
  HostSyncScope() : start_(host_sync_count()) {}
  int64_t count() const { return host_sync_count() - start_; }

 private:
  int64_t start_;
};

}  // namespace mrc
