// The stage schedule shared by the SIMD NTT kernels (ntt_avx2.cpp, ntt_avx512.cpp).
//
// Included only by SIMD translation units, each of which instantiates NttDriver<K> with a
// kernel class K of its own (defined in an anonymous namespace, so every instantiation
// has internal linkage and carries that unit's instruction set only). K provides:
//
//   V, W                      vector type and its number of 64-bit lanes
//   kTailChunks               chunks of 2W words per register-tail call (register budget)
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
//   fwd_tail<Reduce, M>(a, w, wp, k, n, c)  the last log2(W)+1 forward stages (spans
//                             W … 1) on M chunks of 2W words, a[0, 2W·M), the first being
//                             chunk k = offset / 2W; finished with fwd_finish<Reduce>
//   inv_tail<M>(a, w, wp, k, n, c)  the first log2(W)+1 inverse stages (spans 1 … W), [0, L)
//
// Contracts as bt/ntt.hpp: forward [0, 4q) -> [0, 4q) or [0, q); inverse [0, 2q) ->
// [0, 2q) or [0, q). Both fit the kernels' wider internal ranges.
//
// Schedule (Harvey 2014 butterflies; the blocking follows the usual depth-first order):
// stages whose butterflies span more than a block of kBlock words run as whole-array
// passes, two stages per pass (radix 4) where possible; the remaining stages of each
// block run while the block sits in L1; the last log2(W)+1 stages run in registers.
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
    static constexpr std::size_t kBlock = 2048;  // words; 16 KiB stays in L1 with the roots
    static constexpr std::size_t kTailChunks = K::kTailChunks;  // register tails per call

    // ------------------------------------------------------------ forward
    // One stage of span s >= W on a[begin, end) (multiples of 2s); root table index
    // n/(2s) + offset/(2s). Values [0, 2L) -> [0, 2L).
    static void fwd_r2(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& c) {
        const std::size_t groups = n / (2 * s);
        for (std::size_t g = begin; g < end; g += 2 * s) {
            const R r = K::root(w, wp, groups + g / (2 * s));
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
                       const u64* w, const u64* wp, const C& c) {
        const std::size_t groups = n / (2 * s), h = s / 2;
        for (std::size_t g = begin; g < end; g += 2 * s) {
            const std::size_t i = g / (2 * s);
            const R r1 = K::root(w, wp, groups + i);
            const R r2 = K::root(w, wp, 2 * (groups + i));
            const R r3 = K::root(w, wp, 2 * (groups + i) + 1);
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

    // Stages of spans s_hi, s_hi/2, …, s_lo (all >= W) on a[begin, end).
    static void fwd_stages(u64* a, std::size_t begin, std::size_t end, std::size_t s_hi, std::size_t s_lo,
                           std::size_t n, const u64* w, const u64* wp, const C& c) {
        std::size_t s = s_hi;
        while (s >= s_lo) {
            if (s / 2 >= s_lo) {
                fwd_r4(a, begin, end, s, n, w, wp, c);
                s /= 4;
            } else {
                fwd_r2(a, begin, end, s, n, w, wp, c);
                s /= 2;
            }
        }
    }

    // The register tails over a[begin, end), kTailChunks chunks of 2W words at a time.
    template <bool Reduce>
    static void fwd_tails(u64* a, std::size_t begin, std::size_t end, std::size_t n, const u64* w,
                          const u64* wp, const C& c) {
        constexpr std::size_t step = 2 * W * kTailChunks;
        std::size_t o = begin;
        for (; o + step <= end; o += step) K::template fwd_tail<Reduce, kTailChunks>(a + o, w, wp, o / (2 * W), n, c);
        for (; o < end; o += 2 * W) K::template fwd_tail<Reduce, 1>(a + o, w, wp, o / (2 * W), n, c);
    }
    static void inv_tails(u64* a, std::size_t begin, std::size_t end, std::size_t n, const u64* w, const u64* wp,
                          const C& c) {
        constexpr std::size_t step = 2 * W * kTailChunks;
        std::size_t o = begin;
        for (; o + step <= end; o += step) K::template inv_tail<kTailChunks>(a + o, w, wp, o / (2 * W), n, c);
        for (; o < end; o += 2 * W) K::template inv_tail<1>(a + o, w, wp, o / (2 * W), n, c);
    }

    // [0, 4q) -> [0, 4q) (out_factor 4) or [0, q) (out_factor 1). Requires n >= 2W.
    static void forward(u64* a, const NTTTables& t, unsigned out_factor, const u64* w, const u64* wp) {
        const std::size_t n = t.N();
        const C c(t.q());
        const std::size_t block = n < kBlock ? n : kBlock;
        if (n / 2 >= block) fwd_stages(a, 0, n, n / 2, block, n, w, wp, c);  // whole-array passes
        for (std::size_t b = 0; b < n; b += block) {
            if (block / 2 >= 2 * W) fwd_stages(a, b, b + block, block / 2, 2 * W, n, w, wp, c);
            if (out_factor == 1)
                fwd_tails<true>(a, b, b + block, n, w, wp, c);
            else
                fwd_tails<false>(a, b, b + block, n, w, wp, c);
        }
    }

    // ------------------------------------------------------------ inverse
    // One stage of span s >= W on a[begin, end). Values [0, L) -> [0, L).
    static void inv_r2(u64* a, std::size_t begin, std::size_t end, std::size_t s, std::size_t n,
                       const u64* w, const u64* wp, const C& c) {
        const std::size_t groups = n / (2 * s);
        for (std::size_t g = begin; g < end; g += 2 * s) {
            const R r = K::root(w, wp, groups + g / (2 * s));
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
                       const u64* w, const u64* wp, const C& c) {
        const std::size_t groups2 = n / (4 * s);  // groups of the second stage
        for (std::size_t g = begin; g < end; g += 4 * s) {
            const std::size_t i = g / (4 * s);
            const R r1 = K::root(w, wp, 2 * (groups2 + i));
            const R r2 = K::root(w, wp, 2 * (groups2 + i) + 1);
            const R r3 = K::root(w, wp, groups2 + i);
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

    // Stages of spans s_lo, 2·s_lo, …, s_hi (all >= W) on a[begin, end).
    static void inv_stages(u64* a, std::size_t begin, std::size_t end, std::size_t s_lo, std::size_t s_hi,
                           std::size_t n, const u64* w, const u64* wp, const C& c) {
        std::size_t s = s_lo;
        while (s <= s_hi) {
            if (2 * s <= s_hi) {
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
                         unsigned out_factor, const C& c) {
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
        // Inside blocks: spans 1 … min(block/2, n/4).
        const std::size_t s_block_hi = (block / 2 < n / 2) ? block / 2 : n / 4;
        for (std::size_t b = 0; b < n; b += block) {
            inv_tails(a, b, b + block, n, w, wp, c);
            if (s_block_hi >= 2 * W) inv_stages(a, b, b + block, 2 * W, s_block_hi, n, w, wp, c);
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
