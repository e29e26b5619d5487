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

// GCC 12's AVX-512 headers self-initialise their "undefined" pass-through operands
// (__Y = __Y), which -Wmaybe-uninitialized reports at every use (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
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

// Targets 2^50 <= b < 2^62. For one row: x = y·c mod b by Shoup's method. With
// y = y0 + y1·2^52 (y0 < 2^52, y1 < 2^10) and cp = p0 + p1·2^52 (p0 < 2^52, p1 < 2^12),
//   y·cp = lo52(y0·p0) + M·2^52 + T·2^104,  M = hi52(y0·p0) + lo52(y0·p1) + lo52(y1·p0) < 2^54,
//                                           T = hi52(y0·p1) + hi52(y1·p0) + y1·p1 < 2^23,
// so qhat = T·2^40 + floor(M / 2^12) is floor(y·cp / 2^64) or one below (the dropped
// lo52 term is below 2^52). floor(y·cp / 2^64) is floor(y·c / b) or one below (y < 2^62
// makes the truncation of cp cost less than 1/4), so r = y·c - qhat·b lies in [0, 3b)
// and is computed modulo 2^64 from two low products (3b < 2^64). The accumulator stays
// in [0, b): acc + r < 4b, then two subtractions by unsigned minimum.
namespace {
struct WideRow {
    __m512i c, p0, p1;
};
inline WideRow wide_row(u64 c, u64 cp) {
    return {_mm512_set1_epi64(static_cast<long long>(c)), _mm512_set1_epi64(static_cast<long long>(cp & ((u64{1} << 52) - 1))),
            _mm512_set1_epi64(static_cast<long long>(cp >> 52))};
}
// acc in [0, b) -> (acc + y·c) mod b in [0, b).
inline __m512i wide_mac(__m512i acc, __m512i yv, const WideRow& w, __m512i bv, __m512i b2v) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i y0 = _mm512_and_si512(yv, mask52()), y1 = _mm512_srli_epi64(yv, 52);
    __m512i m = _mm512_madd52hi_epu64(zero, y0, w.p0);
    m = _mm512_madd52lo_epu64(m, y0, w.p1);
    m = _mm512_madd52lo_epu64(m, y1, w.p0);
    __m512i t = _mm512_madd52hi_epu64(zero, y0, w.p1);
    t = _mm512_madd52hi_epu64(t, y1, w.p0);
    t = _mm512_madd52lo_epu64(t, y1, w.p1);
    const __m512i qhat = _mm512_add_epi64(_mm512_slli_epi64(t, 40), _mm512_srli_epi64(m, 12));
    const __m512i r = _mm512_sub_epi64(_mm512_mullo_epi64(yv, w.c), _mm512_mullo_epi64(qhat, bv));  // [0, 3b)
    __m512i s = _mm512_add_epi64(acc, r);                                                         // [0, 4b)
    s = _mm512_min_epu64(s, _mm512_sub_epi64(s, b2v));                                            // [0, 2b)
    return _mm512_min_epu64(s, _mm512_sub_epi64(s, bv));                                          // [0, b)
}
}  // namespace

void base_conv_target_wide_ifma(const u64* y, std::size_t stride, std::size_t rows, const u64* c, const u64* cp,
                                const u64* v, u64 b_am, u64 b_amp, std::size_t len, u64 b, u64* out) {
    const __m512i bv = _mm512_set1_epi64(static_cast<long long>(b));
    const __m512i b2v = _mm512_set1_epi64(static_cast<long long>(2 * b));
    const WideRow vrow = wide_row(b_am, b_amp);
    WideRow w[kWideIfmaMaxRows];  // the rows' broadcast constants, once per call (BaseConverter keeps rows within)
    for (std::size_t i = 0; i < rows; ++i) w[i] = wide_row(c[i], cp[i]);
    for (std::size_t k = 0; k < len; k += 8) {
        const __mmask8 m = len - k >= 8 ? __mmask8(0xff) : static_cast<__mmask8>((1u << (len - k)) - 1);
        __m512i acc = _mm512_setzero_si512();
        for (std::size_t i = 0; i < rows; ++i)
            acc = wide_mac(acc, _mm512_maskz_loadu_epi64(m, y + i * stride + k), w[i], bv, b2v);
        if (v) acc = wide_mac(acc, _mm512_maskz_loadu_epi64(m, v + k), vrow, bv, b2v);
        _mm512_mask_storeu_epi64(out + k, m, acc);
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
