// Output buffer cache of the native kernels (see pool.hpp).
#include "pool.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace unshutter {
namespace {

constexpr std::size_t kAlign = std::size_t{2} << 20;  // lets the kernel back buffers with huge pages

struct Pool {
    std::mutex mu;
    std::multimap<std::size_t, void*> free_blocks;  // size -> buffer
    std::unordered_map<void*, std::size_t> sizes;   // every live or cached buffer
    std::size_t cached = 0;
    std::size_t limit = 0;

    Pool() {
        long mb = 1024;
        if (const char* env = std::getenv("UNSHUTTER_NATIVE_CACHE_MB")) {
            char* end = nullptr;
            const long v = std::strtol(env, &end, 10);
            if (end != env && v >= 0) mb = v;
        }
        limit = static_cast<std::size_t>(mb) << 20;
    }
};

// Never destroyed: arrays may outlive static destructors at interpreter exit.
Pool& pool() {
    static Pool* p = new Pool();
    return *p;
}

void* fresh(std::size_t bytes) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, bytes) != 0 || p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, bytes, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
    return p;
}

}  // namespace

void* pool_acquire(std::size_t bytes) {
    Pool& P = pool();
    {
        std::lock_guard<std::mutex> lock(P.mu);
        // a cached buffer no more than 25% larger than asked for
        auto it = P.free_blocks.lower_bound(bytes);
        if (it != P.free_blocks.end() && it->first - bytes <= bytes / 4) {
            void* p = it->second;
            P.cached -= it->first;
            P.free_blocks.erase(it);
            return p;
        }
    }
    void* p = fresh(bytes);
    std::lock_guard<std::mutex> lock(P.mu);
    P.sizes[p] = bytes;
    return p;
}

void pool_release(void* p) {
    if (p == nullptr) return;
    Pool& P = pool();
    std::lock_guard<std::mutex> lock(P.mu);
    auto found = P.sizes.find(p);
    if (found == P.sizes.end()) return;  // not ours: never happens
    const std::size_t bytes = found->second;
    if (bytes > P.limit) {
        P.sizes.erase(found);
        std::free(p);
        return;
    }
    // make room by dropping the largest cached buffers
    while (P.cached + bytes > P.limit && !P.free_blocks.empty()) {
        auto last = std::prev(P.free_blocks.end());
        P.cached -= last->first;
        P.sizes.erase(last->second);
        std::free(last->second);
        P.free_blocks.erase(last);
    }
    P.free_blocks.emplace(bytes, p);
    P.cached += bytes;
}

std::size_t pool_cached_bytes() {
    Pool& P = pool();
    std::lock_guard<std::mutex> lock(P.mu);
    return P.cached;
}

std::size_t pool_limit_bytes() {
    return pool().limit;
}

void pool_clear() {
    Pool& P = pool();
    std::lock_guard<std::mutex> lock(P.mu);
    for (auto& kv : P.free_blocks) {
        P.sizes.erase(kv.second);
        std::free(kv.second);
    }
    P.free_blocks.clear();
    P.cached = 0;
}

}  // namespace unshutter
