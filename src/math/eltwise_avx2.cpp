// AVX2 element-wise modular kernels (add, sub, neg, Barrett multiply, Shoup scalar
// multiply, multiply-accumulate), four lanes, any q < 2^62.
//
// AVX2 has no 64-bit multiply and no unsigned 64-bit compare, so products are built from
// 32×32-bit pieces (vpmuludq) and "x >= m ? x - m : x" is a subtraction plus a blend on
// the sign bit of x - m (exact whenever |x - m| < 2^63, true for every use below).
// Products are reduced with Barrett's algorithm (Menezes et al., Handbook of Applied
// Cryptography, Alg. 14.42) with a word-sized constant, as in eltwise_avx512.cpp. Results equal eltwise_ref exactly.
// Inputs in [0, q), outputs in [0, q); r may alias a or b. The last n mod 4 elements go
// through the same vector code via masked loads/stores.
#if defined(__x86_64__)

#include "kernels.hpp"

#include <immintrin.h>

namespace bt::detail {

namespace {

using V = __m256i;
using u128 = unsigned __int128;

inline V bcast(u64 x) { return _mm256_set1_epi64x(static_cast<long long>(x)); }
inline V add(V a, V b) { return _mm256_add_epi64(a, b); }
inline V sub(V a, V b) { return _mm256_sub_epi64(a, b); }
inline V srli32(V a) { return _mm256_srli_epi64(a, 32); }
// x - m if x - m >= 0 as a signed value, else x
inline V sub_if_ge(V x, V m) {
    const V t = sub(x, m);
    return _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(t), _mm256_castsi256_pd(x), _mm256_castsi256_pd(t)));
}

struct Ctx {
    V q, qh, q2, q4, mu, muh, lo32, sign;  // mu = floor(2^(k+63)/q) (or 2^64-1), muh = mu >> 32
    bool narrow;                           // q < 2^61
    __m128i sh_down, sh_up;            // c1 = hi << (65 - k) | lo >> (k - 1)
    V w, wh, wp, wph;  // MulScalar: w, Shoup factor floor(w·2^64/q), their high halves
};

Ctx make_ctx(const Modulus& m, u64 w) {
    const u64 q = m.value;
    const int k = m.bits;
    Ctx c;
    c.q = bcast(q);
    c.qh = bcast(q >> 32);
    c.q2 = bcast(2 * q);
    c.q4 = bcast(4 * q);
    c.narrow = q < (u64{1} << 61);
    const u128 mu = (u128{1} << (k + 63)) / q;  // < 2^64 except for q = 2^(k-1)
    c.mu = bcast(mu >> 64 != 0 ? ~u64{0} : static_cast<u64>(mu));
    c.muh = srli32(c.mu);
    c.lo32 = bcast(0xffffffffu);
    c.sign = bcast(u64{1} << 63);
    c.sh_down = _mm_cvtsi32_si128(k - 1);
    c.sh_up = _mm_cvtsi32_si128(65 - k);
    w %= q;  // contract: w in [0, q); any w gives the reference's w mod q
    const u64 wp = static_cast<u64>((static_cast<u128>(w) << 64) / q);
    c.w = bcast(w);
    c.wh = bcast(w >> 32);
    c.wp = bcast(wp);
    c.wph = bcast(wp >> 32);
    return c;
}

// (hi, lo) = a·b, full 128 bits, given b's high half
inline void mul_wide(V a, V b, V bh, V& hi, V& lo, const Ctx& c) {
    const V ah = srli32(a);
    const V ll = _mm256_mul_epu32(a, b), lh = _mm256_mul_epu32(a, bh);
    const V hl = _mm256_mul_epu32(ah, b), hh = _mm256_mul_epu32(ah, bh);
    const V mid = add(hl, srli32(ll));  // no overflow
    const V mid2 = add(lh, _mm256_and_si256(mid, c.lo32));
    hi = add(add(hh, srli32(mid)), srli32(mid2));
    lo = _mm256_blend_epi32(_mm256_slli_epi64(mid2, 32), ll, 0x55);
}

// a·b mod 2^64 given a's and b's high halves
inline V mul_lo(V a, V ah, V b, V bh) {
    const V cross = add(_mm256_mul_epu32(ah, b), _mm256_mul_epu32(a, bh));
    return add(_mm256_mul_epu32(a, b), _mm256_slli_epi64(cross, 32));
}

// z = hi·2^64 + lo < 2^(2k) -> z mod q in [0, q)
inline V barrett(V hi, V lo, const Ctx& c) {
    // c1 = floor(z / 2^(k-1)) < 2^(k+1); the two parts have no bits in common
    const V c1 = _mm256_or_si256(_mm256_sll_epi64(hi, c.sh_up), _mm256_srl_epi64(lo, c.sh_down));
    if (c.narrow) {
        // q < 2^61: hi64(c1·mu) without the low×low product is up to 2 smaller, qhat up to
        // 4 below floor(z/q), r in [0, 5q) with 5q < 2^64 (and 4q < 2^63 for the sign test)
        const V ch = srli32(c1);
        V qhat = add(_mm256_mul_epu32(ch, c.muh), srli32(_mm256_mul_epu32(c1, c.muh)));
        qhat = add(qhat, srli32(_mm256_mul_epu32(ch, c.mu)));
        const V r = sub(lo, mul_lo(qhat, srli32(qhat), c.q, c.qh));
        return sub_if_ge(sub_if_ge(sub_if_ge(r, c.q4), c.q2), c.q);
    }
    V qhat, unused;
    mul_wide(c1, c.mu, c.muh, qhat, unused, c);  // the low word is dead code
    const V r = sub(lo, mul_lo(qhat, srli32(qhat), c.q, c.qh));  // [0, 3q)
    return sub_if_ge(sub_if_ge(r, c.q), c.q);
}

inline V mul_scalar(V a, const Ctx& c) {
    // qt = hi64(a·w') from three 32-bit products is at most 2 too small: a·w - qt·q in [0, 4q)
    const V ah = srli32(a);
    V qt = add(_mm256_mul_epu32(ah, c.wph), srli32(_mm256_mul_epu32(a, c.wph)));
    qt = add(qt, srli32(_mm256_mul_epu32(ah, c.wp)));
    const V r = sub(mul_lo(a, ah, c.w, c.wh), mul_lo(qt, srli32(qt), c.q, c.qh));
    return sub_if_ge(sub_if_ge(r, c.q2), c.q);
}

template <EltOp op>
V apply(V x, V y, V acc, const Ctx& c) {
    switch (op) {
        case EltOp::Add: return sub_if_ge(add(x, y), c.q);
        case EltOp::Sub: {
            const V d = sub(x, y);  // (-q, q) as a signed value
            return _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(d), _mm256_castsi256_pd(add(d, c.q)),
                                                         _mm256_castsi256_pd(d)));
        }
        case EltOp::Neg: return _mm256_andnot_si256(_mm256_cmpeq_epi64(x, _mm256_setzero_si256()), sub(c.q, x));
        case EltOp::Mul: {
            V hi, lo;
            mul_wide(x, y, srli32(y), hi, lo, c);
            return barrett(hi, lo, c);
        }
        case EltOp::MulScalar: return mul_scalar(x, c);
        case EltOp::MulAcc: {
            V hi, lo;
            mul_wide(x, y, srli32(y), hi, lo, c);
            lo = add(lo, acc);
            const V carry = _mm256_cmpgt_epi64(_mm256_xor_si256(acc, c.sign), _mm256_xor_si256(lo, c.sign));
            return barrett(sub(hi, carry), lo, c);  // carry is all ones (-1) where lo wrapped
        }
    }
    return x;
}

inline V load(const u64* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline V load_part(const u64* p, V m) { return _mm256_maskload_epi64(reinterpret_cast<const long long*>(p), m); }

template <EltOp op>
void run(u64* r, const u64* a, const u64* b, std::size_t n, const Ctx& cref) {
    const Ctx c = cref;  // local: the stores through r cannot alias it, so it stays in registers
    const bool has_b = op == EltOp::Add || op == EltOp::Sub || op == EltOp::Mul || op == EltOp::MulAcc;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const V x = load(a + i);
        const V y = has_b ? load(b + i) : x;
        const V acc = op == EltOp::MulAcc ? load(r + i) : x;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(r + i), apply<op>(x, y, acc, c));
    }
    if (i < n) {
        const long long rest = static_cast<long long>(n - i);
        const V m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(rest), _mm256_setr_epi64x(0, 1, 2, 3));
        const V x = load_part(a + i, m);
        const V y = has_b ? load_part(b + i, m) : x;
        const V acc = op == EltOp::MulAcc ? load_part(r + i, m) : x;
        _mm256_maskstore_epi64(reinterpret_cast<long long*>(r + i), m, apply<op>(x, y, acc, c));
    }
}

}  // namespace

void eltwise_avx2(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) {
    const Ctx c = make_ctx(m, w);
    switch (op) {
        case EltOp::Add: return run<EltOp::Add>(r, a, b, n, c);
        case EltOp::Sub: return run<EltOp::Sub>(r, a, b, n, c);
        case EltOp::Neg: return run<EltOp::Neg>(r, a, b, n, c);
        case EltOp::Mul: return run<EltOp::Mul>(r, a, b, n, c);
        case EltOp::MulScalar: return run<EltOp::MulScalar>(r, a, b, n, c);
        case EltOp::MulAcc: return run<EltOp::MulAcc>(r, a, b, n, c);
    }
}

}  // namespace bt::detail

#endif  // __x86_64__
