// Element-wise modular kernels: reference, scalar, and dispatch to the SIMD files.
#include "bt/eltwise.hpp"

#include "kernels.hpp"

#include <string>

namespace bt {

void eltwise_ref(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) {
    const u64 q = m.value;
    for (std::size_t i = 0; i < n; ++i) {
        const u128 x = a[i];
        switch (op) {
            case EltOp::Add: r[i] = static_cast<u64>((x + b[i]) % q); break;
            case EltOp::Sub: r[i] = static_cast<u64>((x + q - b[i]) % q); break;
            case EltOp::Neg: r[i] = static_cast<u64>((q - x) % q); break;
            case EltOp::Mul: r[i] = static_cast<u64>(x * b[i] % q); break;
            case EltOp::MulScalar: r[i] = static_cast<u64>(x * w % q); break;
            case EltOp::MulAcc: r[i] = static_cast<u64>((x * b[i] + r[i]) % q); break;
        }
    }
}

void eltwise_reduce_signed_ref(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m) {
    const u64 q = m.value;
    for (std::size_t i = 0; i < n; ++i) {
        const u64 x = mag[i] % q;
        r[i] = neg[i] && x ? q - x : x;
    }
}

namespace detail {

// One multiplication by floor(2^64/q) (Modulus::ratio_hi): for x < 2^64 the quotient
// estimate hi_64(x·floor(2^64/q)) is at most one short (x·(2^64 mod q)/2^64 < q), so
// x - estimate·q lies in [0, 2q). Masks instead of branches: the signs of rounded
// coefficients are random, and mispredicted branches cost more than the arithmetic.
void reduce_signed_scalar(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m) {
    const u64 q = m.value, wp = m.ratio_hi;
    for (std::size_t i = 0; i < n; ++i) {
        u64 x = mul_shoup_lazy(mag[i], 1, wp, q);                                        // [0, 2q)
        x -= q & (0 - static_cast<u64>(x >= q));                                         // [0, q)
        const u64 flip = (0 - static_cast<u64>(neg[i] != 0)) & (0 - static_cast<u64>(x != 0));
        r[i] = x ^ ((x ^ (q - x)) & flip);                                               // q - x if negative
    }
}

void eltwise_scalar(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m) {
    const u64 q = m.value;
    switch (op) {
        case EltOp::Add:
            for (std::size_t i = 0; i < n; ++i) r[i] = add_mod(a[i], b[i], q);
            break;
        case EltOp::Sub:
            for (std::size_t i = 0; i < n; ++i) r[i] = sub_mod(a[i], b[i], q);
            break;
        case EltOp::Neg:
            for (std::size_t i = 0; i < n; ++i) r[i] = neg_mod(a[i], q);
            break;
        case EltOp::Mul:
            for (std::size_t i = 0; i < n; ++i) r[i] = mul_mod(a[i], b[i], m);
            break;
        case EltOp::MulScalar: {
            const u64 ws = shoup_precompute(w, q);
            for (std::size_t i = 0; i < n; ++i) r[i] = mul_shoup(a[i], w, ws, q);
            break;
        }
        case EltOp::MulAcc:
            for (std::size_t i = 0; i < n; ++i) r[i] = mul_add_mod(r[i], a[i], b[i], m);
            break;
    }
}

}  // namespace detail

void eltwise_path(SimdPath p, EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n,
                  const Modulus& m) {
    require_simd_path(p);
    switch (p) {
#if defined(__x86_64__)
        case SimdPath::AVX2: return detail::eltwise_avx2(op, r, a, b, w, n, m);
        case SimdPath::AVX512: return detail::eltwise_avx512(op, r, a, b, w, n, m);
        case SimdPath::AVX512IFMA:
            if (m.value < (u64{1} << 50)) return detail::eltwise_avx512ifma(op, r, a, b, w, n, m);
            return detail::eltwise_avx512(op, r, a, b, w, n, m);
#endif
        default: return detail::eltwise_scalar(op, r, a, b, w, n, m);
    }
}

void eltwise_reduce_signed_path(SimdPath p, u64* r, const u64* mag, const unsigned char* neg, std::size_t n,
                                const Modulus& m) {
    require_simd_path(p);
#if defined(__x86_64__)
    if ((p == SimdPath::AVX512 || p == SimdPath::AVX512IFMA) && m.value > (u64{1} << 32))
        return detail::reduce_signed_avx512(r, mag, neg, n, m);
#endif
    detail::reduce_signed_scalar(r, mag, neg, n, m);
}

void eltwise_reduce_signed(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m) {
    eltwise_reduce_signed_path(simd_path(), r, mag, neg, n, m);
}

void eltwise_add_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m) {
    eltwise_path(simd_path(), EltOp::Add, r, a, b, 0, n, m);
}
void eltwise_sub_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m) {
    eltwise_path(simd_path(), EltOp::Sub, r, a, b, 0, n, m);
}
void eltwise_neg_mod(u64* r, const u64* a, std::size_t n, const Modulus& m) {
    eltwise_path(simd_path(), EltOp::Neg, r, a, nullptr, 0, n, m);
}
void eltwise_mul_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m) {
    eltwise_path(simd_path(), EltOp::Mul, r, a, b, 0, n, m);
}
void eltwise_mul_scalar_mod(u64* r, const u64* a, u64 w, std::size_t n, const Modulus& m) {
    eltwise_path(simd_path(), EltOp::MulScalar, r, a, nullptr, w, n, m);
}
void eltwise_mul_acc_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m) {
    eltwise_path(simd_path(), EltOp::MulAcc, r, a, b, 0, n, m);
}

}  // namespace bt
