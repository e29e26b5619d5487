// PLACEHOLDER until the SIMD kernels land: forwards to the scalar kernel.
#include "kernels.hpp"
namespace bt::detail {
void eltwise_avx512(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) { eltwise_scalar(op, r, a, b, w, n, m); }
void eltwise_avx512ifma(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) { eltwise_scalar(op, r, a, b, w, n, m); }
}
