// The stage schedule shared by the SIMD NTT kernels (ntt_avx2.cpp, ntt_avx512.cpp).
//
// Included only by SIMD translation units, each of which instantiates NttDriver<K> with a
// kernel class K of its own (defined in an anonymous namespace, so every instantiation
// has internal linkage and carries that unit's instruction set only). K provides:
//
//   V, W                      vector type and its number of 64-bit lanes
//   kTailChunks               chunks of 2W words per register-tail call (register budget)
//   kMaxPassStages            2 or 3: stages per memory pass (radix 4 or 8; register budget)
//   Consts(q)                 broadcast constants for one modulus
//   Root root(w, wp, i)       broadcast of table entry i (root and its Shoup factor)
//   load(p), store(p, v)
//   fwd_bf(x, y, r, c)        Harvey's lazy Cooley–Tukey butterfly, with L = 2q (Harvey's
//                             bound) or 4q (kernels that keep 8q below 2^64):
//                             x, y in [0, 2L) -> x + wy, x - wy in [0, 2L)
//   inv_bf(x, y, r, c)        Harvey's lazy Gentleman–Sande butterfly:
//                             x, y in [0, L) -> x + y, w(x - y) in [0, L)
//   inv_bf_scaled(x, y, rn, r, c)  the last inverse stage with N^{-1} folded in:
//                             x, y in [0, L) -> n^{-1}(x + y), (n^{-1}w)(x - y) in [0, L)
//   fwd_finish<Reduce>(x, c)  [0, 2L) -> [0, 4q), or [0, q) when Reduce
//   inv_finish(x, c, out)     [0, L) -> [0, 2q), or [0, q) when out is 1
//   fwd_tail<Reduce, M, Fold>(a, w, wp, k, n, c)  the last log2(W)+1 forward stages (spans
//                             W … 1) on M chunks of 2W words, a[0, 2W·M), the first being
//                             chunk k = offset / 2W; finished with fwd_finish<Reduce>. With
//                             Fold (M even, k even) the span-2W stage first, on chunk pairs.
//   inv_tail<M, Fold>(a, w, wp, k, n, c)  the first inverse stages (spans 1 … W, and 2W
//                             when Fold), [0, L)
//
// Contracts as bt/ntt.hpp: forward [0, 4q) -> [0, 4q) or [0, q); inverse [0, 2q) ->
// [0, 2q) or [0, q). Both fit the kernels' wider internal ranges.
//
// Schedule (Harvey 2014 butterflies; the blocking follows the usual depth-first order):
// stages whose butterflies span more than a block of kBlock words run as whole-array
// passes, two or three stages per pass (radix 4 or 8) where possible; the remaining
// stages of each block run while the block sits in L1; the last log2(W)+2 stages (spans
// 2W … 1) run in registers, several chunks interleaved. The inverse runs the same
// schedule backwards and folds N^{-1} into its last stage.
#pragma once

#include "bt/ntt.hpp"

#include <cstddef>

// Full unrolling of the short loops over the chunks of a register tail (GCC and Clang).
#define BT_UNROLL _Pragma("GCC unroll 8")

namespace bt::detail {

template <class K>
struct NttDriver {
    using V = typename K::V;
    using C = typename K::Consts;
    using R = typename K::Root;
    static constexpr std::size_t W = K::W;
    static constexpr std::size_t kBlock = 1024;  // words; 8 KiB stays in L1 with the roots
    static constexpr std::size_t kTailChunks = K::kTailChunks;  // register tails per call

    // ------------------------------------------------------------ forward
    // One stage of span s >= W on a[begin, end) (multiples of 2s); root table index
    // n/(2s) + offset/(2s). Values [0, 2L) -> [0, 2L).
    static void fwd_r2(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& cref) {
        const C c = cref;  // local: the stores through a cannot alias it, so it stays in registers
        std::size_t i = n / (2 * s) + begin / (2 * s);  // root index of the first group
        for (std::size_t g = begin; g < end; g += 2 * s, ++i) {
            const R r = K::root(w, wp, i);
            u64* x = a + g;
            u64* y = x + s;
            for (std::size_t j = 0; j < s; j += W) {
                V X = K::load(x + j), Y = K::load(y + j);
                K::fwd_bf(X, Y, r, c);
                K::store(x + j, X);
                K::store(y + j, Y);
            }
        }
    }

    // Two stages, spans s and s/2 (s/2 >= W), on a[begin, end) (multiples of 2s).
    static void fwd_r4(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& cref) {
        const C c = cref;
        const std::size_t h = s / 2;
        std::size_t i = n / (2 * s) + begin / (2 * s);
        for (std::size_t g = begin; g < end; g += 2 * s, ++i) {
            const R r1 = K::root(w, wp, i);
            const R r2 = K::root(w, wp, 2 * i);
            const R r3 = K::root(w, wp, 2 * i + 1);
            u64* x = a + g;
            for (std::size_t j = 0; j < h; j += W) {
                V X0 = K::load(x + j), X1 = K::load(x + h + j);
                V X2 = K::load(x + s + j), X3 = K::load(x + s + h + j);
                K::fwd_bf(X0, X2, r1, c);
                K::fwd_bf(X1, X3, r1, c);
                K::fwd_bf(X0, X1, r2, c);
                K::fwd_bf(X2, X3, r3, c);
                K::store(x + j, X0);
                K::store(x + h + j, X1);
                K::store(x + s + j, X2);
                K::store(x + s + h + j, X3);
            }
        }
    }

    // Three stages, spans s, s/2, s/4 (s/4 >= W), on a[begin, end) (multiples of 2s):
    // eight vectors x_m = a[g + m·s/4 + j] and seven roots stay in registers.
    static void fwd_r8(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& cref) {
        const C c = cref;
        const std::size_t e = s / 4;
        std::size_t i = n / (2 * s) + begin / (2 * s);
        for (std::size_t g = begin; g < end; g += 2 * s, ++i) {
            const R r1 = K::root(w, wp, i);
            const R r2a = K::root(w, wp, 2 * i), r2b = K::root(w, wp, 2 * i + 1);
            const R r3a = K::root(w, wp, 4 * i), r3b = K::root(w, wp, 4 * i + 1);
            const R r3c = K::root(w, wp, 4 * i + 2), r3d = K::root(w, wp, 4 * i + 3);
            u64* x = a + g;
            for (std::size_t j = 0; j < e; j += W) {
                V X[8];
                BT_UNROLL for (std::size_t m = 0; m < 8; ++m) X[m] = K::load(x + m * e + j);
                BT_UNROLL for (std::size_t m = 0; m < 4; ++m) K::fwd_bf(X[m], X[m + 4], r1, c);
                K::fwd_bf(X[0], X[2], r2a, c);
                K::fwd_bf(X[1], X[3], r2a, c);
                K::fwd_bf(X[4], X[6], r2b, c);
                K::fwd_bf(X[5], X[7], r2b, c);
                K::fwd_bf(X[0], X[1], r3a, c);
                K::fwd_bf(X[2], X[3], r3b, c);
                K::fwd_bf(X[4], X[5], r3c, c);
                K::fwd_bf(X[6], X[7], r3d, c);
                BT_UNROLL for (std::size_t m = 0; m < 8; ++m) K::store(x + m * e + j, X[m]);
            }
        }
    }

    // Stages of spans s_hi, s_hi/2, …, s_lo (all >= W) on a[begin, end), up to
    // 2^K::kMaxPassStages stages per pass.
    static void fwd_stages(u64* a, std::size_t begin, std::size_t end, std::size_t s_hi, std::size_t s_lo,
                           std::size_t n, const u64* w, const u64* wp, const C& c) {
        std::size_t s = s_hi;
        while (s >= s_lo) {
            if (K::kMaxPassStages >= 3 && s / 4 >= s_lo) {
                fwd_r8(a, begin, end, s, n, w, wp, c);
                s /= 8;
            } else if (s / 2 >= s_lo) {
                fwd_r4(a, begin, end, s, n, w, wp, c);
                s /= 4;
            } else {
                fwd_r2(a, begin, end, s, n, w, wp, c);
                s /= 2;
            }
        }
    }

    // The register tails over a[begin, end), kTailChunks chunks of 2W words at a time:
    // spans W … 1, and span 2W as well when Fold (then chunks go in pairs).
    template <bool Reduce, bool Fold>
    static void fwd_tails(u64* a, std::size_t begin, std::size_t end, std::size_t n, const u64* w,
                          const u64* wp, const C& c) {
        constexpr std::size_t step = 2 * W * kTailChunks, rest = Fold ? 2 : 1;
        std::size_t o = begin;
        for (; o + step <= end; o += step)
            K::template fwd_tail<Reduce, kTailChunks, Fold>(a + o, w, wp, o / (2 * W), n, c);
        for (; o < end; o += 2 * W * rest) K::template fwd_tail<Reduce, rest, Fold>(a + o, w, wp, o / (2 * W), n, c);
    }
    template <bool Fold>
    static void inv_tails(u64* a, std::size_t begin, std::size_t end, std::size_t n, const u64* w, const u64* wp,
                          const C& c) {
        constexpr std::size_t step = 2 * W * kTailChunks, rest = Fold ? 2 : 1;
        std::size_t o = begin;
        for (; o + step <= end; o += step) K::template inv_tail<kTailChunks, Fold>(a + o, w, wp, o / (2 * W), n, c);
        for (; o < end; o += 2 * W * rest) K::template inv_tail<rest, Fold>(a + o, w, wp, o / (2 * W), n, c);
    }

    // [0, 4q) -> [0, 4q) (out_factor 4) or [0, q) (out_factor 1). Requires n >= 2W.
    static void forward(u64* a, const NTTTables& t, unsigned out_factor, const u64* w, const u64* wp) {
        const std::size_t n = t.N();
        const C c(t.q());
        const std::size_t block = n < kBlock ? n : kBlock;
        const bool fold = n >= 4 * W;                     // tails take span 2W too
        const std::size_t s_tail = fold ? 2 * W : W;      // the largest span of the tails
        if (n / 2 >= block) fwd_stages(a, 0, n, n / 2, block, n, w, wp, c);  // whole-array passes
        for (std::size_t b = 0; b < n; b += block) {
            if (block / 2 >= 2 * s_tail) fwd_stages(a, b, b + block, block / 2, 2 * s_tail, n, w, wp, c);
            if (out_factor == 1 && fold) fwd_tails<true, true>(a, b, b + block, n, w, wp, c);
            if (out_factor == 1 && !fold) fwd_tails<true, false>(a, b, b + block, n, w, wp, c);
            if (out_factor != 1 && fold) fwd_tails<false, true>(a, b, b + block, n, w, wp, c);
            if (out_factor != 1 && !fold) fwd_tails<false, false>(a, b, b + block, n, w, wp, c);
        }
    }

    // ------------------------------------------------------------ inverse
    // One stage of span s >= W on a[begin, end). Values [0, L) -> [0, L).
    static void inv_r2(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& cref) {
        const C c = cref;
        std::size_t i = n / (2 * s) + begin / (2 * s);
        for (std::size_t g = begin; g < end; g += 2 * s, ++i) {
            const R r = K::root(w, wp, i);
            u64* x = a + g;
            u64* y = x + s;
            for (std::size_t j = 0; j < s; j += W) {
                V X = K::load(x + j), Y = K::load(y + j);
                K::inv_bf(X, Y, r, c);
                K::store(x + j, X);
                K::store(y + j, Y);
            }
        }
    }

    // Two stages, spans s and 2s (s >= W), on a[begin, end) (multiples of 4s).
    static void inv_r4(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& cref) {
        const C c = cref;
        std::size_t i = n / (4 * s) + begin / (4 * s);  // root index in the second stage
        for (std::size_t g = begin; g < end; g += 4 * s, ++i) {
            const R r1 = K::root(w, wp, 2 * i);
            const R r2 = K::root(w, wp, 2 * i + 1);
            const R r3 = K::root(w, wp, i);
            u64* x = a + g;
            for (std::size_t j = 0; j < s; j += W) {
                V X0 = K::load(x + j), X1 = K::load(x + s + j);
                V X2 = K::load(x + 2 * s + j), X3 = K::load(x + 3 * s + j);
                K::inv_bf(X0, X1, r1, c);
                K::inv_bf(X2, X3, r2, c);
                K::inv_bf(X0, X2, r3, c);
                K::inv_bf(X1, X3, r3, c);
                K::store(x + j, X0);
                K::store(x + s + j, X1);
                K::store(x + 2 * s + j, X2);
                K::store(x + 3 * s + j, X3);
            }
        }
    }

    // Three stages, spans s, 2s, 4s (s >= W), on a[begin, end) (multiples of 8s).
    static void inv_r8(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& cref) {
        const C c = cref;
        std::size_t i = n / (8 * s) + begin / (8 * s);  // root index in the third stage
        for (std::size_t g = begin; g < end; g += 8 * s, ++i) {
            const R r1a = K::root(w, wp, 4 * i), r1b = K::root(w, wp, 4 * i + 1);
            const R r1c = K::root(w, wp, 4 * i + 2), r1d = K::root(w, wp, 4 * i + 3);
            const R r2a = K::root(w, wp, 2 * i), r2b = K::root(w, wp, 2 * i + 1);
            const R r3 = K::root(w, wp, i);
            u64* x = a + g;
            for (std::size_t j = 0; j < s; j += W) {
                V X[8];
                BT_UNROLL for (std::size_t m = 0; m < 8; ++m) X[m] = K::load(x + m * s + j);
                K::inv_bf(X[0], X[1], r1a, c);
                K::inv_bf(X[2], X[3], r1b, c);
                K::inv_bf(X[4], X[5], r1c, c);
                K::inv_bf(X[6], X[7], r1d, c);
                K::inv_bf(X[0], X[2], r2a, c);
                K::inv_bf(X[1], X[3], r2a, c);
                K::inv_bf(X[4], X[6], r2b, c);
                K::inv_bf(X[5], X[7], r2b, c);
                BT_UNROLL for (std::size_t m = 0; m < 4; ++m) K::inv_bf(X[m], X[m + 4], r3, c);
                BT_UNROLL for (std::size_t m = 0; m < 8; ++m) K::store(x + m * s + j, X[m]);
            }
        }
    }

    // Stages of spans s_lo, 2·s_lo, …, s_hi (all >= W) on a[begin, end), up to
    // 2^K::kMaxPassStages stages per pass.
    static void inv_stages(u64* a, std::size_t begin, std::size_t end, std::size_t s_lo, std::size_t s_hi,
                           std::size_t n, const u64* w, const u64* wp, const C& c) {
        std::size_t s = s_lo;
        while (s <= s_hi) {
            if (K::kMaxPassStages >= 3 && 4 * s <= s_hi) {
                inv_r8(a, begin, end, s, n, w, wp, c);
                s *= 8;
            } else if (2 * s <= s_hi) {
                inv_r4(a, begin, end, s, n, w, wp, c);
                s *= 4;
            } else {
                inv_r2(a, begin, end, s, n, w, wp, c);
                s *= 2;
            }
        }
    }

    // The last stage (span n/2 >= W) with N^{-1} folded into both outputs, reducing to
    // [0, q) when out_factor is 1. [0, L) -> [0, 2q) or [0, q).
    static void inv_last(u64* a, std::size_t n, const NTTTables& t, const u64* w, u64 ninv, u64 ninv_p,
                         unsigned out_factor, const C& cref) {
        const C c = cref;
        const u64 q = t.q();
        // (n^{-1}·w) with its Shoup factor, in the same precision as the table's (wp).
        const u64 wn = mul_mod_u128(w[1], ninv, q);
        const u64 wn_p = K::shoup_factor(wn, q);
        const u64 rn_tab[2] = {ninv, wn};
        const u64 rn_ptab[2] = {ninv_p, wn_p};
        const R rn = K::root(rn_tab, rn_ptab, 0), r = K::root(rn_tab, rn_ptab, 1);
        const std::size_t s = n / 2;
        for (std::size_t j = 0; j < s; j += W) {
            V X = K::load(a + j), Y = K::load(a + s + j);
            K::inv_bf_scaled(X, Y, rn, r, c);
            X = K::inv_finish(X, c, out_factor);
            Y = K::inv_finish(Y, c, out_factor);
            K::store(a + j, X);
            K::store(a + s + j, Y);
        }
    }

    // [0, 2q) -> [0, 2q) (out_factor 2) or [0, q) (out_factor 1). Requires n >= 4W.
    static void inverse(u64* a, const NTTTables& t, unsigned out_factor, const u64* w, const u64* wp,
                        u64 ninv_p) {
        const std::size_t n = t.N();
        const C c(t.q());
        const std::size_t block = n < kBlock ? n : kBlock;
        const bool fold = n >= 8 * W;  // tails take span 2W too, unless it is the last stage
        const std::size_t s_tail = fold ? 2 * W : W;
        // Inside blocks: spans 1 … min(block/2, n/4).
        const std::size_t s_block_hi = (block / 2 < n / 2) ? block / 2 : n / 4;
        for (std::size_t b = 0; b < n; b += block) {
            if (fold)
                inv_tails<true>(a, b, b + block, n, w, wp, c);
            else
                inv_tails<false>(a, b, b + block, n, w, wp, c);
            if (s_block_hi >= 2 * s_tail) inv_stages(a, b, b + block, 2 * s_tail, s_block_hi, n, w, wp, c);
        }
        if (n / 4 >= 2 * s_block_hi) inv_stages(a, 0, n, 2 * s_block_hi, n / 4, n, w, wp, c);
        inv_last(a, n, t, w, t.inv_n(), ninv_p, out_factor, c);
    }

    // a·b mod q for a, b < q (table set-up only, a handful of calls per transform).
    static u64 mul_mod_u128(u64 x, u64 y, u64 q) {
        return static_cast<u64>(static_cast<unsigned __int128>(x) * y % q);
    }
};

}  // namespace bt::detail
