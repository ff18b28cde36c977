// The caching allocator's bookkeeping: best-fit reuse from per-device free lists, cudaMalloc only on a
// miss, and an out-of-memory retry after returning the cache to the driver.
#include "tensor/cuda/allocator.h"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "tensor/cuda/context.h"
#include "tensor/cuda/cuda_check.h"

namespace mrc::cuda {

namespace {

// A cached block serves a request when it wastes at most a quarter of the request (plus one unit):
// identical shapes reuse their own blocks exactly, varying shapes still find a home without letting a
// huge block be pinned by a tiny tensor.
bool fits(size_t block, size_t request) { return block <= request + request / 4 + CachingAllocator::kRound; }

std::string mib(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

CachingAllocator& CachingAllocator::get() {
  static CachingAllocator* instance = new CachingAllocator();
  return *instance;
}

CachingAllocator::DeviceState& CachingAllocator::state(int device) {
  if (device < 0) throw std::invalid_argument("CUDA allocator: negative device index " + std::to_string(device));
  if (size_t(device) >= devices_.size()) devices_.resize(size_t(device) + 1);
  return devices_[size_t(device)];
}

void* CachingAllocator::allocate(size_t nbytes, int device) {
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceState& s = state(device);
  s.stats.num_allocs++;
  void* ptr = nullptr;
  size_t got = 0;
  std::multimap<size_t, void*>* pool = s.active_pool ? &s.pool_free[s.active_pool] : nullptr;
  auto pit = pool ? pool->lower_bound(size) : std::multimap<size_t, void*>::iterator();
  auto it = s.free_blocks.lower_bound(size);
  if (pool && pit != pool->end() && fits(pit->first, size)) {
    ptr = pit->second;
    got = pit->first;
    pool->erase(pit);
    s.stats.num_cache_hits++;
  } else if (it != s.free_blocks.end() && fits(it->first, size)) {
    ptr = it->second;
    got = it->first;
    s.free_blocks.erase(it);
    s.stats.num_cache_hits++;
  } else {
    check_device_index(device);
    DeviceGuard guard(device);
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation && !s.free_blocks.empty()) {
      (void)cudaGetLastError();  // clear the error before retrying with the cache returned
      free_cached(s, device);
      err = cudaMalloc(&ptr, size);
    }
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      throw std::runtime_error("CUDA out of memory on cuda:" + std::to_string(device) + ": tried to allocate " +
                               mib(size) + " (" + cudaGetErrorString(err) + "); " + mib(s.stats.allocated_bytes) +
                               " in use by tensors, " + mib(s.stats.reserved_bytes) + " reserved");
    }
    got = size;
    s.stats.num_cuda_malloc++;
    s.stats.reserved_bytes += got;
    if (s.stats.reserved_bytes > s.stats.peak_reserved_bytes) s.stats.peak_reserved_bytes = s.stats.reserved_bytes;
  }
  if (pool) s.pool_of[ptr] = s.active_pool;
  s.live_blocks.emplace(ptr, got);
  s.stats.allocated_bytes += got;
  if (s.stats.allocated_bytes > s.stats.peak_allocated_bytes) s.stats.peak_allocated_bytes = s.stats.allocated_bytes;
  return ptr;
}

void CachingAllocator::release(void* ptr, int device) noexcept {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (device < 0 || size_t(device) >= devices_.size()) {
    std::fprintf(stderr, "mrc: CUDA allocator: release of %p on unknown device %d ignored\n", ptr, device);
    return;
  }
  DeviceState& s = devices_[size_t(device)];
  auto it = s.live_blocks.find(ptr);
  if (it == s.live_blocks.end()) {
    std::fprintf(stderr, "mrc: CUDA allocator: release of %p, which it did not allocate on cuda:%d, ignored\n", ptr,
                 device);
    return;
  }
  const size_t size = it->second;
  s.live_blocks.erase(it);
  s.stats.allocated_bytes -= size;
  const auto owner = s.pool_of.find(ptr);
  if (owner != s.pool_of.end()) {
    const auto pool = s.pool_free.find(owner->second);
    if (pool != s.pool_free.end()) {
      pool->second.emplace(size, ptr);
      return;
    }
    s.pool_of.erase(owner);  // its pool was released: back to the shared cache
  }
  s.free_blocks.emplace(size, ptr);
}

int CachingAllocator::create_pool(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int id = next_pool_++;
  state(device).pool_free[id];
  return id;
}

void CachingAllocator::set_active_pool(int device, int pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceState& s = state(device);
  if (pool != 0 && !s.pool_free.count(pool))
    throw std::invalid_argument("CUDA allocator: pool " + std::to_string(pool) + " does not exist on cuda:" +
                                std::to_string(device));
  s.active_pool = pool;
}

void CachingAllocator::release_pool(int device, int pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceState& s = state(device);
  const auto it = s.pool_free.find(pool);
  if (it == s.pool_free.end()) return;
  for (const auto& [size, ptr] : it->second) {
    s.pool_of.erase(ptr);
    s.free_blocks.emplace(size, ptr);
  }
  s.pool_free.erase(it);
  if (s.active_pool == pool) s.active_pool = 0;
}

void CachingAllocator::free_cached(DeviceState& s, int device) {
  if (s.free_blocks.empty()) return;
  DeviceGuard guard(device);
  for (auto& [size, ptr] : s.free_blocks) {
    MRC_CUDA_CHECK(cudaFree(ptr));  // cudaFree waits for the device, so no queued kernel still uses it
    s.stats.num_cuda_free++;
    s.stats.reserved_bytes -= size;
  }
  s.free_blocks.clear();
}

void CachingAllocator::empty_cache(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (device >= 0) {
    if (size_t(device) < devices_.size()) free_cached(devices_[size_t(device)], device);
    return;
  }
  for (size_t d = 0; d < devices_.size(); ++d) free_cached(devices_[d], int(d));
}

AllocatorStats CachingAllocator::stats(int device) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (device < 0 || size_t(device) >= devices_.size()) return {};
  return devices_[size_t(device)].stats;
}

void CachingAllocator::reset_peak_stats(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (device < 0 || size_t(device) >= devices_.size()) return;
  AllocatorStats& st = devices_[size_t(device)].stats;
  st.peak_allocated_bytes = st.allocated_bytes;
  st.peak_reserved_bytes = st.reserved_bytes;
}

}  // namespace mrc::cuda
