// Constant-time checking (Langley's ctgrind method). In a build with -DBT_CTGRIND (the
// `make ct-check` target), BT_CT_SECRET marks memory as undefined for valgrind's memcheck:
// any branch or memory index that then depends on it is reported as a use of an
// uninitialised value. BT_CT_PUBLIC marks a value as public again (a declassification:
// the result of a rejection test that reveals nothing about the accepted outputs, or a
// value the caller publishes anyway). In every other build both expand to nothing.
#pragma once

#include <cstddef>

#if defined(BT_CTGRIND)
#include <valgrind/memcheck.h>
#define BT_CT_SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define BT_CT_PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define BT_CT_SECRET(p, n) ((void)0)
#define BT_CT_PUBLIC(p, n) ((void)0)
#endif

namespace bt {

// ct-check builds only: while on, every byte a Prng serves on this thread is marked secret
// (the randomness behind secret keys and errors). A no-op elsewhere.
void ct_secret_randomness(bool on);

}  // namespace bt
