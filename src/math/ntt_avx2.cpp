// PLACEHOLDER until the SIMD kernels land: forwards to the scalar kernel.
#include "kernels.hpp"
namespace bt::detail {
void ntt_forward_avx2(u64* a, const NTTTables& t, unsigned i, unsigned o) { ntt_forward_scalar(a, t, i, o); }
void ntt_inverse_avx2(u64* a, const NTTTables& t, unsigned i, unsigned o) { ntt_inverse_scalar(a, t, i, o); }

}
