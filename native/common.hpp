// Shared helpers of the native kernels: index type, threading, CPU dispatch.
//
// Kernels in this folder trust their inputs: the Python wrappers in
// unshutter/kernels/ check dtype, contiguity and shapes, and the bindings in
// module.cpp check them once more so a direct call cannot crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

// Hot loops are compiled for baseline x86-64 and for AVX2 / AVX-512 machines;
// the loader picks the best clone at run time (GCC function multiversioning).
// (GCC 12 or newer: x86-64-v3/v4 as target names and in __builtin_cpu_supports.)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__linux__) && \
    !defined(UNSHUTTER_NO_CLONES)
#define UNSHUTTER_MULTIVERSION 1
#define UNSHUTTER_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define UNSHUTTER_CLONES
#endif

namespace unshutter {

using idx = std::ptrdiff_t;

// Below this many elements a kernel runs on the calling thread only.
constexpr idx kParallelMin = 1 << 15;

// Threads a kernel of `work` elements may use: 1 for small work, and 1 in a
// process forked from one that already ran OpenMP (libgomp's pool does not
// survive fork() and would hang the child).
int threads_for(idx work);

// Number of threads large kernels use (OMP_NUM_THREADS or the core count, at most
// the bound of set_max_threads).
int max_threads();

// Bound the threads of every kernel in this process (the --threads setting); 0: no bound.
void set_max_threads(int n);

// Run f(begin, end) over [0, n) in contiguous chunks shared out to the
// threads as they come free (about 16 per thread), so a thread that loses
// its core to another process holds back little work. `work` (default n)
// is the element count that decides whether to thread at all.
template <class F>
void parallel_ranges(idx n, F&& f, idx work = -1) {
    const int nt = threads_for(work < 0 ? n : work);
    if (nt <= 1) {
        if (n > 0) f(idx{0}, n);
        return;
    }
#ifdef _OPENMP
    const idx chunks = n < idx{16} * nt ? n : idx{16} * nt;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (idx c = 0; c < chunks; ++c) {
        const idx b = n * c / chunks;
        const idx e = n * (c + 1) / chunks;
        if (b < e) f(b, e);
    }
#else
    f(idx{0}, n);
#endif
}

template <class To, class From>
inline To bit_cast(const From& v) {
    static_assert(sizeof(To) == sizeof(From), "bit_cast size mismatch");
    To out;
    std::memcpy(&out, &v, sizeof(To));
    return out;
}

}  // namespace unshutter
