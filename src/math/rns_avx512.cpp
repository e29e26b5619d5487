// AVX-512 IFMA kernels for fast base conversion (see src/math/rns_kernels.hpp).
//
// Accumulation: y·c with y, c < 2^52 is added as its low and high 52-bit halves
// (vpmadd52luq / vpmadd52huq) into two 64-bit lanes, lo and hi, so that the sum is
// lo + hi·2^52 with no carries to propagate. A 60-bit y is split y_lo + y_hi·2^52 and
// y_hi·c (< 2^59) joins hi directly. Reduction of lo + hi·2^52 modulo b < 2^50:
//   lo, hi (< 2^63) -> [0, b) by a double-precision quotient estimate and correction;
//   hi·2^52 mod b by a 52-bit Shoup product with R = 2^52 mod b, R' = floor(R·2^52/b),
//   which lands in [0, 2b) ⊂ [0, 2^51), so the low 52 bits determine it.
#if defined(__x86_64__)
#include "rns_kernels.hpp"

#include <immintrin.h>

namespace bt::detail {

namespace {

// No namespace-scope vector constants here: their initializers would run AVX-512
// instructions at program start on every CPU (make test checks for that).
inline __m512i mask52() { return _mm512_set1_epi64((1ll << 52) - 1); }

// x < 2^63 -> x mod b in [0, b), b < 2^52.
inline __m512i mod_small(__m512i x, __m512i bv, __m512d inv_b) {
    const __m512d xd = _mm512_cvtepu64_pd(x);
    const __m512i q = _mm512_cvttpd_epu64(_mm512_mul_pd(xd, inv_b));  // floor(x/b) - 1 … + 1
    __m512i r = _mm512_sub_epi64(x, _mm512_mullo_epi64(q, bv));        // in [-b, 2b)
    r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, bv);
    r = _mm512_mask_sub_epi64(r, _mm512_cmpge_epu64_mask(r, bv), r, bv);
    return r;
}

// a, b_ in [0, 2^52), result a - b_ mod m for a, b_ in [0, m).
inline __m512i sub_mod_v(__m512i a, __m512i s, __m512i m) {
    const __m512i d = _mm512_sub_epi64(a, s);
    return _mm512_mask_add_epi64(d, _mm512_cmplt_epu64_mask(a, s), d, m);
}

}  // namespace

void base_conv_target_ifma(const u64* y, std::size_t stride, const unsigned* small_rows, std::size_t nsmall,
                           const unsigned* big_rows, std::size_t nbig, const u64* c, const u64* v, u64 am,
                           std::size_t len, u64 b, u64* out) {
    const __m512i bv = _mm512_set1_epi64(static_cast<long long>(b));
    const __m512d inv_b = _mm512_set1_pd(1.0 / static_cast<double>(b));
    const u64 R = static_cast<u64>((u128{1} << 52) % b);
    const u64 Rp = static_cast<u64>((static_cast<u128>(R) << 52) / b);
    const __m512i Rv = _mm512_set1_epi64(static_cast<long long>(R));
    const __m512i Rpv = _mm512_set1_epi64(static_cast<long long>(Rp));
    const __m512i amv = _mm512_set1_epi64(static_cast<long long>(am));
    const __m512i zero = _mm512_setzero_si512();
    std::size_t k = 0;
    for (; k < len; k += 8) {
        const __mmask8 m = len - k >= 8 ? __mmask8(0xff) : static_cast<__mmask8>((1u << (len - k)) - 1);
        __m512i lo = zero, hi = zero;
        for (std::size_t r = 0; r < nsmall; ++r) {
            const std::size_t i = small_rows[r];
            const __m512i yv = _mm512_maskz_loadu_epi64(m, y + i * stride + k);
            const __m512i cv = _mm512_set1_epi64(static_cast<long long>(c[i]));
            lo = _mm512_madd52lo_epu64(lo, yv, cv);
            hi = _mm512_madd52hi_epu64(hi, yv, cv);
        }
        for (std::size_t r = 0; r < nbig; ++r) {
            const std::size_t i = big_rows[r];
            const __m512i yv = _mm512_maskz_loadu_epi64(m, y + i * stride + k);
            const __m512i cv = _mm512_set1_epi64(static_cast<long long>(c[i]));
            const __m512i ylo = _mm512_and_si512(yv, mask52());
            lo = _mm512_madd52lo_epu64(lo, ylo, cv);
            hi = _mm512_madd52hi_epu64(hi, ylo, cv);
            hi = _mm512_add_epi64(hi, _mm512_mullo_epi64(_mm512_maskz_srli_epi64(static_cast<__mmask8>(0xff), yv, 52), cv));
        }
        // (hi·2^52 + lo) mod b
        const __m512i hr = mod_small(hi, bv, inv_b);
        const __m512i qh = _mm512_madd52hi_epu64(zero, hr, Rpv);
        __m512i t = _mm512_sub_epi64(_mm512_madd52lo_epu64(zero, hr, Rv), _mm512_madd52lo_epu64(zero, qh, bv));
        t = _mm512_and_si512(t, mask52());                      // hr·R mod b, in [0, 2b)
        t = _mm512_add_epi64(t, mod_small(lo, bv, inv_b));     // [0, 3b)
        t = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, bv), t, bv);
        t = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, bv), t, bv);
        if (v) {
            const __m512i vv = _mm512_maskz_loadu_epi64(m, v + k);  // v < 2^7, am < 2^50
            t = sub_mod_v(t, mod_small(_mm512_mullo_epi64(vv, amv), bv, inv_b), bv);
        }
        _mm512_mask_storeu_epi64(out + k, m, t);
    }
}

void base_conv_overflow_avx512(const u64* y, std::size_t stride, std::size_t rows, const double* inv_a,
                               std::size_t len, u64* v) {
    for (std::size_t k = 0; k < len; k += 8) {
        const __mmask8 m = len - k >= 8 ? __mmask8(0xff) : static_cast<__mmask8>((1u << (len - k)) - 1);
        __m512d f = _mm512_setzero_pd();
        for (std::size_t i = 0; i < rows; ++i) {
            const __m512d yd = _mm512_cvtepu64_pd(_mm512_maskz_loadu_epi64(m, y + i * stride + k));
            // Multiply, then add (no FMA): the scalar path's roundings, on every target.
            f = _mm512_add_pd(f, _mm512_mul_pd(yd, _mm512_set1_pd(inv_a[i])));
        }
        const __m512i r = _mm512_cvt_roundpd_epu64(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm512_mask_storeu_epi64(v + k, m, r);
    }
}

}  // namespace bt::detail
#endif
