// The CUDA caching allocator: device memory is taken from cudaMalloc once and then recycled. A freed
// block goes back to its device's free list (a multimap by size) and the next request of a similar
// size takes it without a cudaMalloc. All device work runs on one stream per device (context.h), so
// a block released on the host can be handed out again immediately: later work is ordered after the
// work that still uses it. Statistics let tests and benchmarks show that steady-state loops make no
// cudaMalloc / cudaFree calls.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace mrc::cuda {

struct AllocatorStats {
  size_t allocated_bytes = 0;       // in use by tensors (rounded sizes)
  size_t reserved_bytes = 0;        // held from cudaMalloc (in use + cached)
  size_t peak_allocated_bytes = 0;
  size_t peak_reserved_bytes = 0;
  uint64_t num_allocs = 0;          // allocate() calls
  uint64_t num_cache_hits = 0;      // allocate() calls served from the free lists
  uint64_t num_cuda_malloc = 0;     // cudaMalloc calls
  uint64_t num_cuda_free = 0;       // cudaFree calls
};

class CachingAllocator {
 public:
  static CachingAllocator& get();  // never destroyed: tensors may be released during static teardown

  static constexpr size_t kRound = 512;  // every block is a multiple of this many bytes
  static size_t round_size(size_t nbytes) { return nbytes == 0 ? kRound : (nbytes + kRound - 1) / kRound * kRound; }

  // Throws std::runtime_error on an out-of-memory that survives emptying the cache.
  void* allocate(size_t nbytes, int device);
  // Returns a block to its device's free list. Never throws (called from destructors).
  void release(void* ptr, int device) noexcept;
  // cudaFree every cached (unused) block, on one device or on all (-1).
  void empty_cache(int device = -1);

  AllocatorStats stats(int device) const;
  void reset_peak_stats(int device);

  // Private pools, the graph-safe memory of tensor/cuda/graph.h: while a pool is active on a device, that
  // device's allocations are served from the pool's own free blocks (else from the shared cache or
  // cudaMalloc, the block then joining the pool), and a block of the pool returns to the pool when
  // released. So memory a captured graph reads or writes at replay is never handed to other work.
  int create_pool(int device);
  void set_active_pool(int device, int pool);  // 0: the shared cache
  // Gives the pool's free blocks back to the shared cache; its live blocks follow when released.
  void release_pool(int device, int pool);

 private:
  CachingAllocator() = default;
  struct DeviceState {
    std::multimap<size_t, void*> free_blocks;        // size -> block
    std::unordered_map<void*, size_t> live_blocks;   // block -> size
    AllocatorStats stats;
    int active_pool = 0;                              // 0: the shared free list
    std::unordered_map<void*, int> pool_of;           // blocks owned by a private pool (live or free)
    std::map<int, std::multimap<size_t, void*>> pool_free;  // each live pool's free blocks
  };
  DeviceState& state(int device);  // caller holds mutex_
  void free_cached(DeviceState& s, int device);    // caller holds mutex_

  mutable std::mutex mutex_;
  std::vector<DeviceState> devices_;
  int next_pool_ = 1;
};

}  // namespace mrc::cuda
