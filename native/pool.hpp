// A cache of large output buffers, so that frame after frame the kernels
// write into memory that is already mapped instead of paying the kernel's
// page faults and zeroing for every fresh 4K array (often more than the
// kernel itself). Buffers go back to the cache when their NumPy array dies.
#pragma once

#include <cstddef>

namespace unshutter {

// Smallest output that goes through the cache (smaller ones are cheap to map).
constexpr std::size_t kPoolMinBytes = std::size_t{4} << 20;

// A 64-byte aligned buffer of at least `bytes`: a cached one of close size,
// else a new one. Throws std::bad_alloc.
void* pool_acquire(std::size_t bytes);

// Give back a buffer from pool_acquire: cached while the cache stays under
// its limit (UNSHUTTER_NATIVE_CACHE_MB, default 1024; 0 disables), else freed.
void pool_release(void* p);

// Bytes held in the cache, and its limit.
std::size_t pool_cached_bytes();
std::size_t pool_limit_bytes();

// Free every cached buffer.
void pool_clear();

}  // namespace unshutter
