// Thread-count policy of the native kernels, and the guard that keeps a
// forked child (multiprocessing, dask) from deadlocking in libgomp.
#include <atomic>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define UNSHUTTER_HAVE_ATFORK 1
#endif

#include "common.hpp"

namespace unshutter {
namespace {

std::atomic<bool> g_pool_started{false};  // this process ran a parallel region
std::atomic<bool> g_forked{false};        // ...and then forked: we are the child
std::atomic<int> g_limit{0};              // set_max_threads: at most this many threads (0: no limit)

void on_fork_child() {
    if (g_pool_started.load()) g_forked.store(true);
}

#ifdef UNSHUTTER_HAVE_ATFORK
struct ForkGuard {
    ForkGuard() { pthread_atfork(nullptr, nullptr, on_fork_child); }
};
const ForkGuard g_fork_guard;
#endif

}  // namespace

int max_threads() {
#ifdef _OPENMP
    const int nt = omp_get_max_threads();
    const int limit = g_limit.load(std::memory_order_relaxed);
    return limit > 0 && limit < nt ? limit : nt;
#else
    return 1;
#endif
}

// A process-wide bound (every calling thread sees it, unlike omp_set_num_threads,
// which sets the calling thread's own value only). 0 lifts it.
void set_max_threads(int n) {
    g_limit.store(n > 0 ? n : 0, std::memory_order_relaxed);
}

int threads_for(idx work) {
    if (work < kParallelMin || g_forked.load(std::memory_order_relaxed)) return 1;
    const int nt = max_threads();
    if (nt > 1) g_pool_started.store(true, std::memory_order_relaxed);
    return nt;
}

}  // namespace unshutter
