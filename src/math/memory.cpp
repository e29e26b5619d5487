// Process memory tuning. An N = 2^16 RNS polynomial is ~15 MB, and CKKS operations
// allocate and free dozens of them. By default glibc serves such sizes with mmap and
// gives them back to the OS on free, so every new polynomial is faulted in and zeroed
// by the kernel again (measured: 14% of a hoisted rotation). Raising the mmap and trim
// thresholds keeps freed memory in the process for reuse. glibc only; elsewhere no-op.
#include <climits>  // any libc header defines __GLIBC__ (it is not predefined)

#if defined(__GLIBC__)
#include <malloc.h>

namespace {

struct MallocTuning {
    MallocTuning() {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
        mallopt(M_TRIM_THRESHOLD, INT_MAX);   // return memory to the OS only beyond 2 GiB free
    }
};

const MallocTuning tuning;

}  // namespace

// Referenced from threadpool.cpp so that static linking keeps this object.
namespace bt::detail {
void memory_tuning_anchor() {}
}  // namespace bt::detail

namespace bt {
void release_free_memory() { malloc_trim(0); }
}  // namespace bt
#else
namespace bt::detail {
void memory_tuning_anchor() {}
}  // namespace bt::detail

namespace bt {
void release_free_memory() {}
}  // namespace bt
#endif
