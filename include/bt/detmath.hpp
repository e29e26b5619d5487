// Floating point that gives the same bits on every IEEE-754 target.
//
// An aarch64 server must produce the same encrypted head, byte for byte, as an x86-64
// server on any SIMD path. The server's computation is exact modular arithmetic except
// where real numbers become integers or constants:
//   - CKKS encoding and constants: round(x·Δ) for the plaintexts and scalars the server
//     makes itself (masks, learning rates, the homomorphic DFT's diagonals, polynomial
//     coefficients): round_mul below, exact for any magnitude;
//   - the roots of unity of the special FFT (Encoder) and of bootstrapping's homomorphic
//     DFT, and the Chebyshev nodes: cos_2pi_ratio / sin_2pi_ratio;
//   - the functions interpolated by Chebyshev polynomials (EvalMod's cosine, the
//     softmax's exponential) and the DFT's per-stage constant: cos_2pi, exp, pow;
//   - the Chebyshev coefficients themselves: sums of products in DoubleDouble.
// Three things differ between targets and are avoided here:
//   - long double: 80-bit x87 on x86-64, 128-bit IEEE quad on aarch64, 64-bit elsewhere;
//   - libm's cos, sin, exp, pow: not correctly rounded and different code per target
//     (glibc even picks an FMA variant at run time on x86-64);
//   - contraction of a·b + c into a fused multiply-add, which GCC does by default for C++
//     on aarch64 and in x86 files built with -mfma: the Makefile builds every file with
//     -ffp-contract=off (tests/math/detmath.cpp fails if that flag is missing).
// What remains is +, −, ×, ÷ and sqrt of doubles (correctly rounded by IEEE 754, so the
// same everywhere, in the default rounding mode, which nothing changes) and integers.
// The functions compute in double-double (about 106 bits) and round once, so they are
// correctly rounded except within about 2^-100 of a rounding boundary.
#pragma once

#include "bt/modarith.hpp"

#include <complex>
#include <cstddef>
#include <vector>

namespace bt {

// ================================================================ exact rounding

// An integer ±mag·2^shift, exact, of any magnitude a product of two doubles can have.
struct ExactInt {
    u128 mag = 0;        // < 2^127
    unsigned shift = 0;  // 0 whenever mag·2^shift < 2^126
    bool neg = false;    // never set for 0
    // Whether the value is in (-2^63, 2^63), and then it as a signed word.
    bool fits_i64() const { return shift == 0 && mag < (u128{1} << 63); }
    i64 to_i64() const { return neg ? -static_cast<i64>(mag) : static_cast<i64>(mag); }
};

// round(x·s) exactly (the true product, not a rounded one), ties to even. Throws
// std::invalid_argument if x or s is not finite.
ExactInt round_mul(double x, double s);
// The value mod q, in [0, q), for a modulus q >= 2.
u64 residue(const ExactInt& v, u64 q);

// ================================================================ double-double

// hi + lo with |lo| <= ulp(hi)/2: about 106 significant bits.
struct DoubleDouble {
    double hi = 0, lo = 0;
    double value() const { return hi + lo; }
};
DoubleDouble dd_prod(double a, double b);  // a·b exactly
DoubleDouble dd_add(DoubleDouble a, DoubleDouble b);
DoubleDouble dd_mul(DoubleDouble a, DoubleDouble b);
DoubleDouble dd_div(DoubleDouble a, DoubleDouble b);
// a·b − c with a·b rounded first: the canary the tests use for a build without
// -ffp-contract=off, which fuses it into one multiply-add on aarch64.
double fp_contract_probe(double a, double b, double c);

// ================================================================ elementary functions

namespace det {

// cos(2π·k/m) and sin(2π·k/m) for integers k >= 0, 0 < m <= 2^53; the angle is reduced
// exactly (as integers), so symmetric angles give exactly symmetric values.
double cos_2pi_ratio(u64 k, u64 m);
double sin_2pi_ratio(u64 k, u64 m);
void cis_2pi_ratio(u64 k, u64 m, double& c, double& s);  // both at once
// e^(2πik/m) for k = 0 … m: the same values as cis_2pi_ratio, computed once per octant
// (m/8 + 1 series when 4 divides m) and placed by the exact symmetries.
std::vector<std::complex<double>> roots_of_unity(u64 m);
// cos(2π·u) for any finite u (the reduction of u modulo 1 is exact); NaN otherwise.
double cos_2pi(double u);
// e^x (0 below -745.2, +inf above 709.8, NaN for NaN).
double exp(double x);
// ln x for x > 0 finite; throws std::invalid_argument otherwise.
double log(double x);
// x^y = e^(y·ln x) for x > 0 finite and finite y; throws std::invalid_argument otherwise.
double pow(double x, double y);

}  // namespace det

}  // namespace bt
