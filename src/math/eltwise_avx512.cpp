// AVX-512 element-wise modular kernels (add, sub, neg, multiply, Shoup scalar multiply,
// multiply-accumulate), eight lanes, in three flavours:
//  - 64-bit (AVX-512 F/DQ), any q < 2^62: 128-bit products from 32×32-bit pieces;
//  - the same for q < 2^50, with a·b mod q in double precision (mul_fp below);
//  - IFMA, q < 2^50: 104-bit products from vpmadd52luq/vpmadd52huq (Boemer et al. 2021),
//    except a·b mod q, which is again mul_fp (measured faster than the IFMA Barrett).
// Integer products are reduced with Barrett's algorithm (Menezes et al., Handbook of
// Applied Cryptography, Alg. 14.42) with its constant scaled to a full machine word of B
// bits (B = 64, or 52 for IFMA): for a k-bit q and z < 2^(2k), c1 = floor(z / 2^(k-1)) <
// 2^(k+1) and mu = floor(2^(k+B-1) / q) < 2^B, the estimate qhat = hi_B(c1 · mu) is at
// most 2 below floor(z/q) (the two truncations cost less than 1 + 2^(k-B+1) <= 1.5), so
// z - qhat·q lies in [0, 3q) and two conditional subtractions finish. For q < 2^61 the
// 64-bit flavour leaves the low×low partial product out of hi_64(c1 · mu) (up to 2 more
// below), so z - qhat·q lies in [0, 5q), still below 2^64, and three subtractions finish.
// Results equal eltwise_ref exactly. Inputs in [0, q), outputs in [0, q); r may alias a or b.
// The last n mod 8 elements go through the same vector code via masked loads/stores.
#if defined(__x86_64__)

#include "kernels.hpp"

// GCC 12's AVX-512 headers self-initialise their "undefined" pass-through operands
// (__Y = __Y), which -W(maybe-)uninitialized reports at every use (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstring>

namespace bt::detail {

namespace {

using V = __m512i;
using u128 = unsigned __int128;

inline V bcast(u64 x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
// x in [0, 2q) -> [0, q)
inline V sub_if_ge(V x, V q) { return _mm512_min_epu64(x, _mm512_sub_epi64(x, q)); }

// Per-call constants: q, Barrett's mu and the shift counts of c1.
struct Ctx {
    V q, q2, q4, negq, mu, muh, mask52, zero;  // muh = mu >> 32
    bool narrow;                               // q < 2^61
    __m512d qd, qinv;                  // q and fl(1/q) in double precision
    __m128i sh_down, sh_up;            // c1 = hi << (B - k + 1) | lo >> (k - 1)
    V w, wp;                           // MulScalar: w and its Shoup factor
};

Ctx make_ctx(const Modulus& m, u64 w, unsigned word_bits) {
    const u64 q = m.value;
    const int k = m.bits;
    Ctx c;
    c.q = bcast(q);
    c.q2 = bcast(2 * q);
    c.q4 = bcast(4 * q);
    c.narrow = q < (u64{1} << 61);
    c.negq = bcast((u64{1} << 52) - q);  // used by the IFMA flavour only (q < 2^50)
    // floor(2^(k+B-1) / q) < 2^B except for q = 2^(k-1), where 2^B - 1 serves as well.
    const u128 mu = (u128{1} << (k + static_cast<int>(word_bits) - 1)) / q;
    const u64 word_max = word_bits == 64 ? ~u64{0} : (u64{1} << word_bits) - 1;
    c.mu = bcast(mu > word_max ? word_max : static_cast<u64>(mu));
    c.muh = _mm512_srli_epi64(c.mu, 32);
    c.mask52 = bcast((u64{1} << 52) - 1);
    c.zero = _mm512_setzero_si512();
    c.qd = _mm512_set1_pd(static_cast<double>(q));
    c.qinv = _mm512_set1_pd(1.0 / static_cast<double>(q));
    c.sh_down = _mm_cvtsi32_si128(k - 1);
    c.sh_up = _mm_cvtsi32_si128(static_cast<int>(word_bits) - k + 1);
    w %= q;  // contract: w in [0, q); any w gives the reference's w mod q
    c.w = bcast(w);
    c.wp = bcast(static_cast<u64>((static_cast<u128>(w) << word_bits) / q));
    return c;
}

// c1 = floor((hi·2^B + lo) / 2^(k-1)) (the two parts have no bits in common)
inline V barrett_c1(V hi, V lo, const Ctx& c) {
    return _mm512_or_si512(_mm512_sll_epi64(hi, c.sh_up), _mm512_srl_epi64(lo, c.sh_down));
}

// a, b in [0, q), q < 2^50 -> a·b mod q in [0, q), exactly, in double precision (van der
// Hoeven, Lecerf, Quintin 2016, "Modular SIMD arithmetic in Mathemagix"). h = fl(a·b) and
// l = a·b - h (one FMA, exact) split the product; e = floor(fl(h · fl(1/q))) is within
// 0.375 of a·b/q (relative error 2^-52 on a quotient below 2^50, plus |l|/q < 2^-3), so
// e is floor(a·b/q) + {-1, 0, 1}; g = (h - e·q) + l is computed exactly (integers below
// 2^52) and lies in [-q, 2q), and one correction each way lands in [0, q).
inline V mul_fp(V a, V b, const Ctx& c) {
    const __m512d x = _mm512_cvtepu64_pd(a), y = _mm512_cvtepu64_pd(b);
    const __m512d h = _mm512_mul_pd(x, y);
    const __m512d l = _mm512_fmsub_pd(x, y, h);
    const __m512d e = _mm512_roundscale_pd(_mm512_mul_pd(h, c.qinv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512d g = _mm512_add_pd(_mm512_fnmadd_pd(e, c.qd, h), l);
    g = _mm512_mask_add_pd(g, _mm512_cmp_pd_mask(g, _mm512_setzero_pd(), _CMP_LT_OQ), g, c.qd);
    g = _mm512_mask_sub_pd(g, _mm512_cmp_pd_mask(g, c.qd, _CMP_GE_OQ), g, c.qd);
    return _mm512_cvtpd_epu64(g);
}

// ---------------------------------------------------------------- 64-bit flavour

struct Arith64 {
    static constexpr unsigned kWordBits = 64;
    // (hi, lo) = a·b, full 128 bits
    static void mul_wide(V a, V b, V& hi, V& lo) {
        const V ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
        const V ll = _mm512_mul_epu32(a, b), lh = _mm512_mul_epu32(a, bh);
        const V hl = _mm512_mul_epu32(ah, b), hh = _mm512_mul_epu32(ah, bh);
        const V mid = _mm512_add_epi64(hl, _mm512_srli_epi64(ll, 32));  // no overflow
        const V mid2 = _mm512_add_epi64(lh, _mm512_and_si512(mid, bcast(0xffffffffu)));
        hi = _mm512_add_epi64(_mm512_add_epi64(hh, _mm512_srli_epi64(mid, 32)), _mm512_srli_epi64(mid2, 32));
        lo = _mm512_mask_blend_epi32(0x5555, _mm512_slli_epi64(mid2, 32), ll);
    }
    // hi64(a·mu), exact
    static V mulhi_mu(V a, const Ctx& c) {
        const V ah = _mm512_srli_epi64(a, 32);
        const V ll = _mm512_mul_epu32(a, c.mu), lh = _mm512_mul_epu32(a, c.muh);
        const V hl = _mm512_mul_epu32(ah, c.mu), hh = _mm512_mul_epu32(ah, c.muh);
        const V mid = _mm512_add_epi64(hl, _mm512_srli_epi64(ll, 32));  // no overflow
        const V mid2 = _mm512_add_epi64(lh, _mm512_and_si512(mid, bcast(0xffffffffu)));
        return _mm512_add_epi64(_mm512_add_epi64(hh, _mm512_srli_epi64(mid, 32)), _mm512_srli_epi64(mid2, 32));
    }
    // hi64(a·mu) - {0, 1, 2}: the low×low product is left out
    static V mulhi_mu_approx(V a, const Ctx& c) {
        const V ah = _mm512_srli_epi64(a, 32);
        const V lh = _mm512_mul_epu32(a, c.muh), hl = _mm512_mul_epu32(ah, c.mu);
        const V hh = _mm512_add_epi64(_mm512_mul_epu32(ah, c.muh), _mm512_srli_epi64(lh, 32));
        return _mm512_add_epi64(hh, _mm512_srli_epi64(hl, 32));
    }
    // z = hi·2^64 + lo < 2^(2k) -> z mod q in [0, q)
    static V barrett(V hi, V lo, const Ctx& c) {
        if (c.narrow) {  // q < 2^61: qhat up to 4 below floor(z/q), r in [0, 5q) and 5q < 2^64
            const V qhat = mulhi_mu_approx(barrett_c1(hi, lo, c), c);
            const V r = _mm512_sub_epi64(lo, _mm512_mullo_epi64(qhat, c.q));
            return sub_if_ge(sub_if_ge(_mm512_min_epu64(r, _mm512_sub_epi64(r, c.q4)), c.q2), c.q);
        }
        const V qhat = mulhi_mu(barrett_c1(hi, lo, c), c);
        const V r = _mm512_sub_epi64(lo, _mm512_mullo_epi64(qhat, c.q));  // [0, 3q)
        return sub_if_ge(sub_if_ge(r, c.q), c.q);
    }
    static V mul(V a, V b, const Ctx& c) {
        V hi, lo;
        mul_wide(a, b, hi, lo);
        return barrett(hi, lo, c);
    }
    static V mul_acc(V r, V a, V b, const Ctx& c) {
        V hi, lo;
        mul_wide(a, b, hi, lo);
        lo = _mm512_add_epi64(lo, r);
        hi = _mm512_mask_sub_epi64(hi, _mm512_cmplt_epu64_mask(lo, r), hi, _mm512_set1_epi64(-1));  // carry
        return barrett(hi, lo, c);
    }
    // Shoup: qt = hi64(a·w') from three 32-bit products is at most 2 too small, so
    // a·w - qt·q lies in [0, 4q).
    static V mul_scalar(V a, const Ctx& c) {
        const V ah = _mm512_srli_epi64(a, 32), wph = _mm512_srli_epi64(c.wp, 32);
        V qt = _mm512_add_epi64(_mm512_mul_epu32(ah, wph), _mm512_srli_epi64(_mm512_mul_epu32(a, wph), 32));
        qt = _mm512_add_epi64(qt, _mm512_srli_epi64(_mm512_mul_epu32(ah, c.wp), 32));
        const V r = _mm512_sub_epi64(_mm512_mullo_epi64(a, c.w), _mm512_mullo_epi64(qt, c.q));
        return sub_if_ge(sub_if_ge(r, _mm512_add_epi64(c.q, c.q)), c.q);
    }
};

// 64-bit flavour for q < 2^50 (AVX-512 CPUs without IFMA): products in double precision.
struct Arith64Small : Arith64 {
    static V mul(V a, V b, const Ctx& c) { return mul_fp(a, b, c); }
};

// ---------------------------------------------------------------- IFMA flavour (q < 2^50)

struct ArithIfma {
    static constexpr unsigned kWordBits = 52;
    // z = hi·2^52 + lo < 2^(2k), lo < 2^52 -> z mod q in [0, q)
    static V barrett(V hi, V lo, const Ctx& c) {
        const V qhat = _mm512_madd52hi_epu64(c.zero, barrett_c1(hi, lo, c), c.mu);  // c1 < 2^51
        const V r = _mm512_and_si512(_mm512_madd52lo_epu64(lo, qhat, c.negq), c.mask52);  // [0, 3q)
        return sub_if_ge(sub_if_ge(r, c.q), c.q);
    }
    static V mul(V a, V b, const Ctx& c) { return mul_fp(a, b, c); }
    static V mul_acc(V r, V a, V b, const Ctx& c) {
        const V lo = _mm512_madd52lo_epu64(r, a, b);  // r + lo52(a·b) < 2^53
        const V hi = _mm512_add_epi64(_mm512_madd52hi_epu64(c.zero, a, b), _mm512_srli_epi64(lo, 52));
        return barrett(hi, _mm512_and_si512(lo, c.mask52), c);
    }
    // Shoup with w' = floor(w·2^52/q): a·w - hi52(a·w')·q in [0, 2q)
    static V mul_scalar(V a, const Ctx& c) {
        const V qt = _mm512_madd52hi_epu64(c.zero, a, c.wp);
        const V r = _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(c.zero, a, c.w), qt, c.negq);
        return sub_if_ge(_mm512_and_si512(r, c.mask52), c.q);
    }
};

// ---------------------------------------------------------------- the loop

template <class A>
V apply(EltOp op, V x, V y, V acc, const Ctx& c) {
    switch (op) {
        case EltOp::Add: return sub_if_ge(_mm512_add_epi64(x, y), c.q);
        case EltOp::Sub: {
            const V d = _mm512_sub_epi64(x, y);
            return _mm512_min_epu64(d, _mm512_add_epi64(d, c.q));
        }
        case EltOp::Neg: return _mm512_maskz_sub_epi64(_mm512_test_epi64_mask(x, x), c.q, x);
        case EltOp::Mul: return A::mul(x, y, c);
        case EltOp::MulScalar: return A::mul_scalar(x, c);
        case EltOp::MulAcc: return A::mul_acc(acc, x, y, c);
    }
    return x;
}

// The op is a template parameter so that each loop body is branch-free.
template <class A, EltOp op>
void run(u64* r, const u64* a, const u64* b, std::size_t n, const Ctx& cref) {
    const Ctx c = cref;  // local: the stores through r cannot alias it, so it stays in registers
    const bool has_b = op == EltOp::Add || op == EltOp::Sub || op == EltOp::Mul || op == EltOp::MulAcc;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const V x = _mm512_loadu_si512(a + i);
        const V y = has_b ? _mm512_loadu_si512(b + i) : x;
        const V acc = op == EltOp::MulAcc ? _mm512_loadu_si512(r + i) : x;
        _mm512_storeu_si512(r + i, apply<A>(op, x, y, acc, c));
    }
    if (i < n) {
        const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
        const V x = _mm512_maskz_loadu_epi64(m, a + i);
        const V y = has_b ? _mm512_maskz_loadu_epi64(m, b + i) : x;
        const V acc = op == EltOp::MulAcc ? _mm512_maskz_loadu_epi64(m, r + i) : x;
        _mm512_mask_storeu_epi64(r + i, m, apply<A>(op, x, y, acc, c));
    }
}

template <class A>
void dispatch(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) {
    const Ctx c = make_ctx(m, w, A::kWordBits);
    switch (op) {
        case EltOp::Add: return run<A, EltOp::Add>(r, a, b, n, c);
        case EltOp::Sub: return run<A, EltOp::Sub>(r, a, b, n, c);
        case EltOp::Neg: return run<A, EltOp::Neg>(r, a, b, n, c);
        case EltOp::Mul: return run<A, EltOp::Mul>(r, a, b, n, c);
        case EltOp::MulScalar: return run<A, EltOp::MulScalar>(r, a, b, n, c);
        case EltOp::MulAcc: return run<A, EltOp::MulAcc>(r, a, b, n, c);
    }
}

}  // namespace

void eltwise_avx512(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) {
    if (m.value < (u64{1} << 50)) return dispatch<Arith64Small>(op, r, a, b, w, n, m);
    dispatch<Arith64>(op, r, a, b, w, n, m);
}

void eltwise_avx512ifma(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) {
    dispatch<ArithIfma>(op, r, a, b, w, n, m);
}

// Signed magnitudes mag < 2^62 mod q, for 2^32 < q < 2^62 (the scalar kernel's method,
// eight lanes). Then wp = floor(2^64/q) < 2^32, so with mag = a1·2^32 + a0 (a1 < 2^30) the
// quotient estimate hi_64(mag·wp) = (a1·wp + hi_32(a0·wp)) >> 32 exactly, from two 32×32
// products and a sum below 2^63; the estimate is below 2^30, so estimate·q < 2^62 is one
// vpmullq. mag - estimate·q lies in [0, 2q); one subtraction, then q - x where negative
// and x != 0.
void reduce_signed_avx512(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m) {
    const u64 q = m.value;
    const V vq = bcast(q), wp = bcast(m.ratio_hi), zero = _mm512_setzero_si512();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const V x = _mm512_loadu_si512(mag + i);
        const V lo = _mm512_srli_epi64(_mm512_mul_epu32(x, wp), 32);  // hi_32(a0·wp)
        const V hi = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), wp);  // a1·wp
        const V est = _mm512_srli_epi64(_mm512_add_epi64(hi, lo), 32);
        V y = _mm512_sub_epi64(x, _mm512_mullo_epi64(est, vq));        // [0, 2q)
        y = sub_if_ge(y, vq);                                          // [0, q)
        std::uint64_t bytes;
        std::memcpy(&bytes, neg + i, 8);
        const __m512i sg = _mm512_cvtepu8_epi64(_mm_cvtsi64_si128(static_cast<long long>(bytes)));
        const __mmask8 flip = _mm512_test_epi64_mask(sg, sg) & _mm512_cmpneq_epu64_mask(y, zero);
        _mm512_storeu_si512(r + i, _mm512_mask_sub_epi64(y, flip, vq, y));
    }
    if (i < n) reduce_signed_scalar(r + i, mag + i, neg + i, n - i, m);
}

}  // namespace bt::detail

#endif  // __x86_64__
