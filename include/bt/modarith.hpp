// Modular arithmetic on 64-bit words, for moduli q < 2^62 (the NTT-friendly primes of
// the RNS, at most 61 bits in practice; lazy kernels need 4q < 2^64).
//
// Every function states the range of its inputs and outputs. "Lazy" functions return a
// value in [0, 2q) or [0, 4q) that a later step reduces; the others return [0, q).
//
// Multiplication comes in two flavours:
//  - Barrett (variable × variable): the product is reduced with floor(2^128 / q),
//    precomputed in Modulus.
//  - Shoup (variable × fixed w): with w' = floor(w · 2^64 / q) precomputed, a·w mod q
//    costs two multiplications and no division (Shoup; Harvey 2014, "Faster arithmetic
//    for number-theoretic transforms", for the lazy [0, 2q) variant).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace bt {

using u64 = std::uint64_t;
using i64 = std::int64_t;
using u128 = unsigned __int128;

inline u64 hi64(u128 x) { return static_cast<u64>(x >> 64); }
inline u64 lo64(u128 x) { return static_cast<u64>(x); }

// Number of significant bits of x (0 for x = 0).
inline int bit_length(u64 x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

// A modulus with its Barrett constant. Immutable once made.
struct Modulus {
    u64 value = 0;     // q, 2 <= q < 2^62
    int bits = 0;      // bit length of q
    u64 ratio_hi = 0;  // floor(2^128 / q) = ratio_hi · 2^64 + ratio_lo
    u64 ratio_lo = 0;

    Modulus() = default;
    explicit Modulus(u64 q) : value(q), bits(bit_length(q)) {
        if (q < 2 || q >> 62 != 0)
            throw std::invalid_argument("Modulus: q = " + std::to_string(q) +
                                        " is outside [2, 2^62); use primes of at most 61 bits");
        // floor(2^128 / q) by long division of the 128-bit numerator (2^128 - 1 suffices
        // because q is not a power of two for any modulus we use; for q = 2^k the
        // constant is one less than exact, which Barrett's final correction absorbs).
        const u128 all = ~static_cast<u128>(0);
        const u128 r = all / q;
        ratio_hi = hi64(r);
        ratio_lo = lo64(r);
    }
};

// ---------------------------------------------------------------- add / sub / neg
// a, b in [0, q) -> [0, q)
inline u64 add_mod(u64 a, u64 b, u64 q) {
    u64 s = a + b;
    return s >= q ? s - q : s;
}
// a, b in [0, q) -> [0, q)
inline u64 sub_mod(u64 a, u64 b, u64 q) { return a >= b ? a - b : a + q - b; }
// a in [0, q) -> [0, q)
inline u64 neg_mod(u64 a, u64 q) { return a == 0 ? 0 : q - a; }

// ---------------------------------------------------------------- Barrett
// x < q^2 (any x < 2^124 for q < 2^62) -> x mod q in [0, q)
inline u64 barrett_reduce_128(u128 x, const Modulus& m) {
    const u64 x0 = lo64(x), x1 = hi64(x);
    // Estimate floor(x · ratio / 2^128), dropping only the lowest partial product's
    // low word; the estimate is at most one below the true quotient.
    const u64 carry = hi64(static_cast<u128>(x0) * m.ratio_lo);
    const u128 t2 = static_cast<u128>(x0) * m.ratio_hi;
    const u128 t3 = static_cast<u128>(x1) * m.ratio_lo;
    const u128 mid = static_cast<u128>(lo64(t2)) + lo64(t3) + carry;
    const u64 qhat = x1 * m.ratio_hi + hi64(t2) + hi64(t3) + hi64(mid);
    u64 r = x0 - qhat * m.value;  // exact mod 2^64, lies in [0, 2q)
    return r >= m.value ? r - m.value : r;
}
// x any 64-bit value -> x mod q in [0, q)
inline u64 barrett_reduce_64(u64 x, const Modulus& m) {
    return barrett_reduce_128(static_cast<u128>(x), m);
}
// a, b in [0, q) -> a·b mod q in [0, q)
inline u64 mul_mod(u64 a, u64 b, const Modulus& m) {
    return barrett_reduce_128(static_cast<u128>(a) * b, m);
}
// r + a·b mod q; r, a, b in [0, q) -> [0, q)
inline u64 mul_add_mod(u64 r, u64 a, u64 b, const Modulus& m) {
    return barrett_reduce_128(static_cast<u128>(a) * b + r, m);
}

// ---------------------------------------------------------------- Shoup
// w in [0, q) -> floor(w · 2^64 / q)
inline u64 shoup_precompute(u64 w, u64 q) {
    return static_cast<u64>((static_cast<u128>(w) << 64) / q);
}
// a any 64-bit value, w in [0, q), wp = shoup_precompute(w) -> a·w mod q in [0, 2q)
inline u64 mul_shoup_lazy(u64 a, u64 w, u64 wp, u64 q) {
    const u64 qhat = hi64(static_cast<u128>(a) * wp);
    return a * w - qhat * q;
}
// as above -> [0, q)
inline u64 mul_shoup(u64 a, u64 w, u64 wp, u64 q) {
    u64 r = mul_shoup_lazy(a, w, wp, q);
    return r >= q ? r - q : r;
}

// ---------------------------------------------------------------- pow / inverse
// a in [0, q), e any -> a^e mod q
inline u64 pow_mod(u64 a, u64 e, const Modulus& m) {
    u64 r = 1 % m.value, b = a;
    while (e != 0) {
        if (e & 1) r = mul_mod(r, b, m);
        b = mul_mod(b, b, m);
        e >>= 1;
    }
    return r;
}
// a in [0, q) with gcd(a, q) = 1 -> a^{-1} mod q; throws if not invertible.
inline u64 inv_mod(u64 a, u64 q) {
    // Extended Euclid on signed 128-bit values.
    __int128 t = 0, new_t = 1, r = q, new_r = a % q;
    while (new_r != 0) {
        __int128 quot = r / new_r;
        __int128 tmp = t - quot * new_t;
        t = new_t;
        new_t = tmp;
        tmp = r - quot * new_r;
        r = new_r;
        new_r = tmp;
    }
    if (r != 1)
        throw std::invalid_argument("inv_mod: " + std::to_string(a) + " has no inverse modulo " +
                                    std::to_string(q));
    if (t < 0) t += q;
    return static_cast<u64>(t);
}

// ---------------------------------------------------------------- signed <-> residue
// v in (-q, q) -> v mod q in [0, q)
inline u64 from_signed(i64 v, u64 q) {
    return v < 0 ? q - static_cast<u64>(-v) : static_cast<u64>(v);
}
// Constant-time version for small secret values v in (-q, q): no branch on v.
inline u64 from_signed_ct(i64 v, u64 q) {
    const u64 neg_mask = static_cast<u64>(v >> 63);  // all ones if v < 0
    return static_cast<u64>(v) + (q & neg_mask);
}
// a in [0, q) -> centred representative in (-q/2, q/2]
inline i64 to_centered(u64 a, u64 q) {
    return a > q / 2 ? -static_cast<i64>(q - a) : static_cast<i64>(a);
}

}  // namespace bt
