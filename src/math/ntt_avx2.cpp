// AVX2 NTT kernel: four 64-bit lanes, any q < 2^62.
//
// AVX2 has neither a 64-bit multiply nor unsigned 64-bit compares, so:
//  - the Shoup quotient hi64(y·w') is assembled from three 32×32-bit products
//    (vpmuludq), dropping the low×low one; it is at most 2 too small, so y·w − Q·q lies
//    in [0, 4q) and one conditional subtraction brings it back to Harvey's [0, 2q)
//    (for q < 2^61 the "wide" kernel skips it and keeps every range twice as wide);
//  - the low words y·w and Q·q come from three 32×32-bit products each;
//  - "x >= m ? x - m : x" for x < 2m <= 2^63 is a subtraction and a blend on the sign bit
//    of x - m.
// The stage schedule is ntt_simd.hpp (Harvey 2014 lazy butterflies); this file adds the
// butterflies and the last three forward / first three inverse stages (spans 4, 2, 1),
// which run on chunks of 8 words held in two registers.
#if defined(__x86_64__)

#include "kernels.hpp"
#include "ntt_simd.hpp"

#include <immintrin.h>

namespace bt::detail {

namespace {

// Wide = false: Harvey's ranges, forward values in [0, 4q), inverse in [0, 2q).
// Wide = true (q < 2^61, so 8q fits a word and 4q < 2^63 keeps the sign test exact):
// every range doubles, forward [0, 8q), inverse [0, 4q), and the multiplication skips
// its final correction.
template <bool Wide>
struct K2 {
    using V = __m256i;
    static constexpr std::size_t W = 4;
    static constexpr std::size_t kTailChunks = 4;
    static constexpr int kMaxPassStages = 2;

    struct Consts {
        V q, qh, q2, lz;  // lz = L, the bound of a lazy product: 2q, or 4q when Wide
        explicit Consts(u64 m) : q(bcast(m)), qh(bcast(m >> 32)), q2(bcast(2 * m)), lz(bcast((Wide ? 4 : 2) * m)) {}
    };
    struct Root {
        V w, wh, wp, wph;  // root and Shoup factor floor(w·2^64/q), with their high halves
    };

    static V bcast(u64 x) { return _mm256_set1_epi64x(static_cast<long long>(x)); }
    static V load(const u64* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static void store(u64* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
    static Root make_root(V w, V wp) { return {w, _mm256_srli_epi64(w, 32), wp, _mm256_srli_epi64(wp, 32)}; }
    static Root root(const u64* w, const u64* wp, std::size_t i) { return make_root(bcast(w[i]), bcast(wp[i])); }
    static u64 shoup_factor(u64 w, u64 q) { return static_cast<u64>((static_cast<unsigned __int128>(w) << 64) / q); }

    // x in [0, 2m), m <= 2^63 -> x mod m, by the sign of x - m
    static V sub_if_ge(V x, V m) {
        const V t = _mm256_sub_epi64(x, m);
        return _mm256_castpd_si256(
            _mm256_blendv_pd(_mm256_castsi256_pd(t), _mm256_castsi256_pd(x), _mm256_castsi256_pd(t)));
    }
    // Forward outputs [0, 2L) -> [0, 4q), or [0, q) when Reduce.
    template <bool Reduce>
    static V fwd_finish(V x, const Consts& c) {
        if (Wide) x = sub_if_ge(x, c.lz);
        if (Reduce) x = sub_if_ge(sub_if_ge(x, c.q2), c.q);
        return x;
    }
    // Inverse outputs [0, L) -> [0, 2q), or [0, q) when out_factor is 1.
    static V inv_finish(V x, const Consts& c, unsigned out_factor) {
        if (Wide) x = sub_if_ge(x, c.q2);
        return out_factor == 1 ? sub_if_ge(x, c.q) : x;
    }

    // y any 64-bit value -> y·w mod q in [0, L)
    static V mul_lazy(V y, const Root& r, const Consts& c) {
        const V yh = _mm256_srli_epi64(y, 32);
        const V lh = _mm256_mul_epu32(y, r.wph);
        const V hl = _mm256_mul_epu32(yh, r.wp);
        V qt = _mm256_add_epi64(_mm256_mul_epu32(yh, r.wph), _mm256_srli_epi64(lh, 32));
        qt = _mm256_add_epi64(qt, _mm256_srli_epi64(hl, 32));  // floor(y·w'/2^64) - {0,1,2}
        const V qth = _mm256_srli_epi64(qt, 32);
        // y·w - qt·q mod 2^64 from 32-bit halves: low×low, then the cross terms << 32
        const V lo = _mm256_sub_epi64(_mm256_mul_epu32(y, r.w), _mm256_mul_epu32(qt, c.q));
        V mid = _mm256_add_epi64(_mm256_mul_epu32(yh, r.w), _mm256_mul_epu32(y, r.wh));
        mid = _mm256_sub_epi64(mid, _mm256_add_epi64(_mm256_mul_epu32(qth, c.q), _mm256_mul_epu32(qt, c.qh)));
        const V v = _mm256_add_epi64(lo, _mm256_slli_epi64(mid, 32));  // [0, 4q)
        return Wide ? v : sub_if_ge(v, c.q2);
    }

    // x, y in [0, 2L) -> x + wy, x - wy in [0, 2L)
    static void fwd_bf(V& x, V& y, const Root& r, const Consts& c) {
        const V u = sub_if_ge(x, c.lz);
        const V v = mul_lazy(y, r, c);
        x = _mm256_add_epi64(u, v);
        y = _mm256_sub_epi64(_mm256_add_epi64(u, c.lz), v);
    }
    // x, y in [0, L) -> x + y, w(x - y) in [0, L)
    static void inv_bf(V& x, V& y, const Root& r, const Consts& c) {
        const V d = _mm256_sub_epi64(_mm256_add_epi64(x, c.lz), y);
        x = sub_if_ge(_mm256_add_epi64(x, y), c.lz);
        y = mul_lazy(d, r, c);
    }
    // x, y in [0, L) -> n^{-1}(x + y), n^{-1}w(x - y) in [0, L)
    static void inv_bf_scaled(V& x, V& y, const Root& rn, const Root& r, const Consts& c) {
        const V d = _mm256_sub_epi64(_mm256_add_epi64(x, c.lz), y);
        x = mul_lazy(_mm256_add_epi64(x, y), rn, c);
        y = mul_lazy(d, r, c);
    }

    // Roots [w[i], w[i], w[i+1], w[i+1]] for the span-2 stage.
    static Root pair_roots(const u64* w, const u64* wp, std::size_t i) {
        const V a = _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
        const V b = _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp + i)));
        return make_root(_mm256_permute4x64_epi64(a, 0x50), _mm256_permute4x64_epi64(b, 0x50));
    }

    // The register tails below work on M chunks of 8 words at once, stage by stage, so
    // that M independent dependency chains interleave (one chunk alone is latency-bound).

    // Forward spans (8,) 4, 2, 1 on a[0, 8M), chunks k … k+M-1 of n/8. [0, 2L) -> fwd_finish.
    template <bool Reduce, std::size_t M, bool Fold>
    static void fwd_tail(u64* a, const u64* w, const u64* wp, std::size_t k, std::size_t n, const Consts& cref) {
        const Consts c = cref;  // local: the stores through a cannot alias it
        V x[M], y[M];
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            x[i] = load(a + 8 * i);
            y[i] = load(a + 8 * i + 4);
        }
        if (Fold) {  // span 8: chunk i with chunk i+1
            BT_UNROLL for (std::size_t i = 0; i < M; i += 2) {
                const Root r = root(w, wp, n / 16 + (k + i) / 2);
                fwd_bf(x[i], x[i + 1], r, c);
                fwd_bf(y[i], y[i + 1], r, c);
            }
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            fwd_bf(x[i], y[i], root(w, wp, n / 8 + k + i), c);
            // span 2: X = a[0,1,4,5], Y = a[2,3,6,7]
            const V u = _mm256_permute2x128_si256(x[i], y[i], 0x20), v = _mm256_permute2x128_si256(x[i], y[i], 0x31);
            x[i] = u;
            y[i] = v;
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            fwd_bf(x[i], y[i], pair_roots(w, wp, n / 4 + 2 * (k + i)), c);
            // span 1: X = a[0,2,4,6], Y = a[1,3,5,7]
            const V u = _mm256_unpacklo_epi64(x[i], y[i]), v = _mm256_unpackhi_epi64(x[i], y[i]);
            x[i] = u;
            y[i] = v;
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const std::size_t j = n / 2 + 4 * (k + i);
            fwd_bf(x[i], y[i], make_root(load(w + j), load(wp + j)), c);
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V u = fwd_finish<Reduce>(x[i], c), v = fwd_finish<Reduce>(y[i], c);
            const V lo = _mm256_unpacklo_epi64(u, v), hi = _mm256_unpackhi_epi64(u, v);  // a[0,1,4,5], a[2,3,6,7]
            store(a + 8 * i, _mm256_permute2x128_si256(lo, hi, 0x20));
            store(a + 8 * i + 4, _mm256_permute2x128_si256(lo, hi, 0x31));
        }
    }

    // Inverse spans 1, 2, 4 (, 8) on a[0, 8M), chunks k … k+M-1 of n/8. [0, L) -> [0, L).
    template <std::size_t M, bool Fold>
    static void inv_tail(u64* a, const u64* w, const u64* wp, std::size_t k, std::size_t n, const Consts& cref) {
        const Consts c = cref;  // local: the stores through a cannot alias it
        V x[M], y[M];
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            const V v0 = load(a + 8 * i), v1 = load(a + 8 * i + 4);
            const V lo = _mm256_permute2x128_si256(v0, v1, 0x20), hi = _mm256_permute2x128_si256(v0, v1, 0x31);
            // span 1: X = a[0,2,4,6], Y = a[1,3,5,7]
            x[i] = _mm256_unpacklo_epi64(lo, hi);
            y[i] = _mm256_unpackhi_epi64(lo, hi);
            const std::size_t j = n / 2 + 4 * (k + i);
            inv_bf(x[i], y[i], make_root(load(w + j), load(wp + j)), c);
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            // span 2: X = a[0,1,4,5], Y = a[2,3,6,7]
            const V u = _mm256_unpacklo_epi64(x[i], y[i]), v = _mm256_unpackhi_epi64(x[i], y[i]);
            x[i] = u;
            y[i] = v;
            inv_bf(x[i], y[i], pair_roots(w, wp, n / 4 + 2 * (k + i)), c);
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            // span 4: natural order
            const V u = _mm256_permute2x128_si256(x[i], y[i], 0x20), v = _mm256_permute2x128_si256(x[i], y[i], 0x31);
            x[i] = u;
            y[i] = v;
            inv_bf(x[i], y[i], root(w, wp, n / 8 + k + i), c);
        }
        if (Fold) {  // span 8: chunk i with chunk i+1
            BT_UNROLL for (std::size_t i = 0; i < M; i += 2) {
                const Root r = root(w, wp, n / 16 + (k + i) / 2);
                inv_bf(x[i], x[i + 1], r, c);
                inv_bf(y[i], y[i + 1], r, c);
            }
        }
        BT_UNROLL for (std::size_t i = 0; i < M; ++i) {
            store(a + 8 * i, x[i]);
            store(a + 8 * i + 4, y[i]);
        }
    }
};

using Ntt2 = NttDriver<K2<false>>;
using Ntt2Wide = NttDriver<K2<true>>;
constexpr u64 kWideLimit = u64{1} << 61;

}  // namespace

// N >= 16 = 4·W always holds (NTTTables), which both schedules need.
void ntt_forward_avx2(u64* a, const NTTTables& t, unsigned /*in_factor*/, unsigned out_factor) {
    if (t.q() < kWideLimit) return Ntt2Wide::forward(a, t, out_factor, t.fwd(), t.fwd_shoup());
    Ntt2::forward(a, t, out_factor, t.fwd(), t.fwd_shoup());
}

void ntt_inverse_avx2(u64* a, const NTTTables& t, unsigned /*in_factor*/, unsigned out_factor) {
    if (t.q() < kWideLimit) return Ntt2Wide::inverse(a, t, out_factor, t.inv(), t.inv_shoup(), t.inv_n_shoup());
    Ntt2::inverse(a, t, out_factor, t.inv(), t.inv_shoup(), t.inv_n_shoup());
}

}  // namespace bt::detail

#endif  // __x86_64__
