// The host-sync counter (see host_sync.h).
#include "tensor/host_sync.h"

#include <atomic>

namespace mrc {

namespace {
std::atomic<int64_t> g_reads{0};
}

void count_host_sync() { g_reads.fetch_add(1, std::memory_order_relaxed); }
int64_t host_sync_count() { return g_reads.load(std::memory_order_relaxed); }

}  // namespace mrc
