// AVX-512 NTT kernels: eight 64-bit lanes, two flavours of the Shoup multiplication.
//
//  - Mul64 (AVX-512 F/DQ): any q < 2^62. The high word of y·w' is assembled from three
//    32×32-bit products (vpmuludq), dropping the low×low one: the quotient estimate is
//    at most 2 too small, so y·w − Q·q lies in [0, 4q) and one conditional subtraction
//    brings it back to Harvey's [0, 2q). For q < 2^61 ("wide") the kernel skips that
//    subtraction and keeps every range twice as wide instead (forward values below 8q).
//  - Ifma (AVX-512 IFMA): q < 2^50, so lazy values below 4q fit the 52-bit multiplier.
//    With w' = floor(w·2^52 / q): Q = hi52(y·w'), y·w − Q·q = lo52(y·w) + lo52(Q·(2^52 − q))
//    mod 2^52, in [0, 2q) (Boemer et al. 2021, "Intel HEXL", §4; Harvey 2014).
//
// The stage schedule is ntt_simd.hpp; this file adds the butterflies and the last four
// forward / first four inverse stages (spans 8, 4, 2, 1), which run on chunks of 16 words
// held in two registers, reshuffled between stages so that each butterfly pairs lane
// with lane (the roots of each stage are permuted to match).
#if defined(__x86_64__)

#include "kernels.hpp"
#include "ntt_simd.hpp"

// GCC 12's AVX-512 headers self-initialise their "undefined" pass-through operands
// (__Y = __Y), which -Wmaybe-uninitialized reports at every use (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

namespace bt::detail {

namespace {

using V = __m512i;

inline V bcast(u64 x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
inline V idx8(int a, int b, int c, int d, int e, int f, int g, int h) { return _mm512_setr_epi64(a, b, c, d, e, f, g, h); }

// Broadcast constants for one modulus (the IFMA ones are unused by Mul64).
struct Consts {
    V q, q2, q4, negq, mask, zero;
    explicit Consts(u64 m)
        : q(bcast(m)), q2(bcast(2 * m)), q4(bcast(4 * m)), negq(bcast((u64{1} << 52) - m)),
          mask(bcast((u64{1} << 52) - 1)), zero(_mm512_setzero_si512()) {}
};

// x in [0, 2m) -> [0, m)
inline V sub_if_ge(V x, V m) { return _mm512_min_epu64(x, _mm512_sub_epi64(x, m)); }

// ---------------------------------------------------------------- arithmetic flavours

struct Mul64 {
    struct Root {
        V w, wp, wph;  // root, Shoup factor floor(w·2^64/q), its high half
    };
    static Root make_root(V w, V wp) { return {w, wp, _mm512_srli_epi64(wp, 32)}; }
    static u64 shoup_factor(u64 w, u64 q) { return static_cast<u64>((static_cast<unsigned __int128>(w) << 64) / q); }

    // y any 64-bit value -> y·w mod q in [0, 2q) (Exact) or [0, 4q)
    template <bool Exact>
    static V mul_lazy(V y, const Root& r, const Consts& c) {
        const V yh = _mm512_srli_epi64(y, 32);
        const V lh = _mm512_mul_epu32(y, r.wph);
        const V hl = _mm512_mul_epu32(yh, r.wp);
        const V hh = _mm512_mul_epu32(yh, r.wph);
        V qt = _mm512_add_epi64(hh, _mm512_srli_epi64(lh, 32));
        qt = _mm512_add_epi64(qt, _mm512_srli_epi64(hl, 32));  // floor(y·w'/2^64) - {0,1,2}
        const V v = _mm512_sub_epi64(_mm512_mullo_epi64(y, r.w), _mm512_mullo_epi64(qt, c.q));  // [0, 4q)
        return Exact ? sub_if_ge(v, c.q2) : v;
    }
};

struct Ifma {
    struct Root {
        V w, wp;  // root, Shoup factor floor(w·2^52/q)
    };
    static Root make_root(V w, V wp) { return {w, wp}; }
    static u64 shoup_factor(u64 w, u64 q) { return static_cast<u64>((static_cast<unsigned __int128>(w) << 52) / q); }

    // y in [0, 2^52) -> y·w mod q in [0, 2q)
    template <bool /*Exact: always*/>
    static V mul_lazy(V y, const Root& r, const Consts& c) {
        const V qt = _mm512_madd52hi_epu64(c.zero, y, r.wp);
        V v = _mm512_madd52lo_epu64(c.zero, y, r.w);
        v = _mm512_madd52lo_epu64(v, qt, c.negq);
        return _mm512_and_si512(v, c.mask);
    }
};

// ---------------------------------------------------------------- the kernel class

// Wide = false: Harvey's ranges, forward values in [0, 4q), inverse in [0, 2q).
// Wide = true (Mul64 with q < 2^61, so 8q fits a word): every range doubles, forward
// [0, 8q), inverse [0, 4q), and the multiplication skips its final correction.
template <class A, bool Wide>
struct K512 {
    using V = __m512i;
    using Consts = bt::detail::Consts;
    using Root = typename A::Root;
    static constexpr std::size_t W = 8;
    static constexpr std::size_t kTailChunks = 8;
    static constexpr int kMaxPassStages = 3;

    static V load(const u64* p) { return _mm512_loadu_si512(p); }
    static void store(u64* p, V v) { _mm512_storeu_si512(p, v); }
    static Root root(const u64* w, const u64* wp, std::size_t i) { return A::make_root(bcast(w[i]), bcast(wp[i])); }
    static u64 shoup_factor(u64 w, u64 q) { return A::shoup_factor(w, q); }
    static const V& lazy(const Consts& c) { return Wide ? c.q4 : c.q2; }  // L: product bound

    // x, y in [0, 2L) -> x + wy, x - wy in [0, 2L)
    static void fwd_bf(V& x, V& y, const Root& r, const Consts& c) {
        const V u = sub_if_ge(x, lazy(c));
        const V v = A::template mul_lazy<!Wide>(y, r, c);
        x = _mm512_add_epi64(u, v);
        y = _mm512_sub_epi64(_mm512_add_epi64(u, lazy(c)), v);
    }
    // x, y in [0, L) -> x + y, w(x - y) in [0, L)
    static void inv_bf(V& x, V& y, const Root& r, const Consts& c) {
        const V d = _mm512_sub_epi64(_mm512_add_epi64(x, lazy(c)), y);
        x = sub_if_ge(_mm512_add_epi64(x, y), lazy(c));
        y = A::template mul_lazy<!Wide>(d, r, c);
    }
    // x, y in [0, L) -> n^{-1}(x + y), n^{-1}w(x - y) in [0, L)
    static void inv_bf_scaled(V& x, V& y, const Root& rn, const Root& r, const Consts& c) {
        const V d = _mm512_sub_epi64(_mm512_add_epi64(x, lazy(c)), y);
        x = A::template mul_lazy<!Wide>(_mm512_add_epi64(x, y), rn, c);
        y = A::template mul_lazy<!Wide>(d, r, c);
    }
    // Forward outputs [0, 2L) -> [0, 4q), or [0, q) when Reduce.
    template <bool Reduce>
    static V fwd_finish(V x, const Consts& c) {
        if (Wide) x = sub_if_ge(x, c.q4);
        if (Reduce) x = sub_if_ge(sub_if_ge(x, c.q2), c.q);
        return x;
    }
    // Inverse outputs [0, L) -> [0, 2q), or [0, q) when out_factor is 1.
    static V inv_finish(V x, const Consts& c, unsigned out_factor) {
        if (Wide) x = sub_if_ge(x, c.q2);
        return out_factor == 1 ? sub_if_ge(x, c.q) : x;
    }

    // Lane roots: entries base + idx[lane] of the tables, idx over the first `count` entries.
    template <int count>
    static Root lane_roots(const u64* w, const u64* wp, std::size_t base, V idx) {
        constexpr __mmask8 m = static_cast<__mmask8>((1u << count) - 1);
        return A::make_root(_mm512_permutexvar_epi64(idx, _mm512_maskz_loadu_epi64(m, w + base)),
                            _mm512_permutexvar_epi64(idx, _mm512_maskz_loadu_epi64(m, wp + base)));
    }

    // The register tails below work on M chunks of 16 words at once, stage by stage, so
    // that M independent dependency chains interleave (one chunk alone is latency-bound).

    // Forward spans (16,) 8, 4, 2, 1 on a[0, 16M), chunks k … k+M-1 of n/16.
    // [0, 2L) -> fwd_finish.
    template <bool Reduce, std::size_t M, bool Fold>
    static void fwd_tail(u64* a, const u64* w, const u64* wp, std::size_t k, std::size_t n, const Consts& cref) {
        const Consts c = cref;  // local: the stores through a cannot alias it
        V x[M], y[M];
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            x[i] = load(a + 16 * i);
            y[i] = load(a + 16 * i + 8);
        }
        if (Fold) {  // span 16: chunk i with chunk i+1
            BT_UNROLL for (std::size_t i = 0; i < M; i += 2) {
                const Root r = root(w, wp, n / 32 + (k + i) / 2);
                fwd_bf(x[i], x[i + 1], r, c);
                fwd_bf(y[i], y[i + 1], r, c);
            }
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) fwd_bf(x[i], y[i], root(w, wp, n / 16 + k + i), c);
        // span 4: X = a[0..3, 8..11], Y = a[4..7, 12..15]
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = _mm512_shuffle_i64x2(x[i], y[i], 0x44), v = _mm512_shuffle_i64x2(x[i], y[i], 0xEE);
            x[i] = u;
            y[i] = v;
            fwd_bf(x[i], y[i], lane_roots<2>(w, wp, n / 8 + 2 * (k + i), idx8(0, 0, 0, 0, 1, 1, 1, 1)), c);
        }
        // span 2: X = a[0,1, 8,9, 4,5, 12,13], Y = a[2,3, 10,11, 6,7, 14,15]
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = _mm512_shuffle_i64x2(x[i], y[i], 0x88), v = _mm512_shuffle_i64x2(x[i], y[i], 0xDD);
            x[i] = u;
            y[i] = v;
            fwd_bf(x[i], y[i], lane_roots<4>(w, wp, n / 4 + 4 * (k + i), idx8(0, 0, 2, 2, 1, 1, 3, 3)), c);
        }
        // span 1: X = even words, Y = odd words, in order
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = _mm512_permutex2var_epi64(x[i], idx8(0, 8, 4, 12, 2, 10, 6, 14), y[i]);
            const V v = _mm512_permutex2var_epi64(x[i], idx8(1, 9, 5, 13, 3, 11, 7, 15), y[i]);
            x[i] = u;
            y[i] = v;
            const std::size_t j = n / 2 + 8 * (k + i);
            fwd_bf(x[i], y[i], A::make_root(load(w + j), load(wp + j)), c);
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = fwd_finish<Reduce>(x[i], c), v = fwd_finish<Reduce>(y[i], c);
            store(a + 16 * i, _mm512_permutex2var_epi64(u, idx8(0, 8, 1, 9, 2, 10, 3, 11), v));
            store(a + 16 * i + 8, _mm512_permutex2var_epi64(u, idx8(4, 12, 5, 13, 6, 14, 7, 15), v));
        }
    }

    // Inverse spans 1, 2, 4, 8 (, 16) on a[0, 16M), chunks k … k+M-1 of n/16. [0, L) -> [0, L).
    template <std::size_t M, bool Fold>
    static void inv_tail(u64* a, const u64* w, const u64* wp, std::size_t k, std::size_t n, const Consts& cref) {
        const Consts c = cref;  // local: the stores through a cannot alias it
        V x[M], y[M];
        // span 1: X = even words, Y = odd words
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V v0 = load(a + 16 * i), v1 = load(a + 16 * i + 8);
            x[i] = _mm512_permutex2var_epi64(v0, idx8(0, 2, 4, 6, 8, 10, 12, 14), v1);
            y[i] = _mm512_permutex2var_epi64(v0, idx8(1, 3, 5, 7, 9, 11, 13, 15), v1);
            const std::size_t j = n / 2 + 8 * (k + i);
            inv_bf(x[i], y[i], A::make_root(load(w + j), load(wp + j)), c);
        }
        // span 2: X = a[0,1, 8,9, 4,5, 12,13], Y = a[2,3, 10,11, 6,7, 14,15]
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = _mm512_permutex2var_epi64(x[i], idx8(0, 8, 4, 12, 2, 10, 6, 14), y[i]);
            const V v = _mm512_permutex2var_epi64(x[i], idx8(1, 9, 5, 13, 3, 11, 7, 15), y[i]);
            x[i] = u;
            y[i] = v;
            inv_bf(x[i], y[i], lane_roots<4>(w, wp, n / 4 + 4 * (k + i), idx8(0, 0, 2, 2, 1, 1, 3, 3)), c);
        }
        // span 4: X = a[0,1, 8,9, 2,3, 10,11], Y = a[4,5, 12,13, 6,7, 14,15]
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = _mm512_shuffle_i64x2(x[i], y[i], 0x44), v = _mm512_shuffle_i64x2(x[i], y[i], 0xEE);
            x[i] = u;
            y[i] = v;
            inv_bf(x[i], y[i], lane_roots<2>(w, wp, n / 8 + 2 * (k + i), idx8(0, 0, 1, 1, 0, 0, 1, 1)), c);
        }
        // span 8: back to natural order
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = _mm512_shuffle_i64x2(x[i], y[i], 0x88), v = _mm512_shuffle_i64x2(x[i], y[i], 0xDD);
            x[i] = u;
            y[i] = v;
            inv_bf(x[i], y[i], root(w, wp, n / 16 + k + i), c);
        }
        if (Fold) {  // span 16: chunk i with chunk i+1
            BT_UNROLL for (std::size_t i = 0; i < M; i += 2) {
                const Root r = root(w, wp, n / 32 + (k + i) / 2);
                inv_bf(x[i], x[i + 1], r, c);
                inv_bf(y[i], y[i + 1], r, c);
            }
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            store(a + 16 * i, x[i]);
            store(a + 16 * i + 8, y[i]);
        }
    }
};

using Ntt64 = NttDriver<K512<Mul64, false>>;
using Ntt64Wide = NttDriver<K512<Mul64, true>>;
using NttIfma = NttDriver<K512<Ifma, false>>;
constexpr u64 kWideLimit = u64{1} << 61;

}  // namespace

// ---------------------------------------------------------------- entry points
// The forward transform runs from N = 16 (one register tail); the inverse needs N >= 32
// (tail plus the scaled last stage), so N = 16 goes to the scalar kernel.

void ntt_forward_avx512(u64* a, const NTTTables& t, unsigned /*in_factor*/, unsigned out_factor) {
    if (t.q() < kWideLimit) return Ntt64Wide::forward(a, t, out_factor, t.fwd(), t.fwd_shoup());
    Ntt64::forward(a, t, out_factor, t.fwd(), t.fwd_shoup());
}

void ntt_inverse_avx512(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor) {
    if (t.N() < 32) return ntt_inverse_scalar(a, t, in_factor, out_factor);
    if (t.q() < kWideLimit) return Ntt64Wide::inverse(a, t, out_factor, t.inv(), t.inv_shoup(), t.inv_n_shoup());
    Ntt64::inverse(a, t, out_factor, t.inv(), t.inv_shoup(), t.inv_n_shoup());
}

void ntt_forward_avx512ifma(u64* a, const NTTTables& t, unsigned /*in_factor*/, unsigned out_factor) {
    NttIfma::forward(a, t, out_factor, t.fwd(), t.fwd_shoup52());
}

void ntt_inverse_avx512ifma(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor) {
    if (t.N() < 32) return ntt_inverse_scalar(a, t, in_factor, out_factor);
    NttIfma::inverse(a, t, out_factor, t.inv(), t.inv_shoup52(), t.inv_n_shoup52());
}

}  // namespace bt::detail

#endif  // __x86_64__
