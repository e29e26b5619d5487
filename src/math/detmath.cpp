// Floating point that gives the same bits on every IEEE-754 target (see bt/detmath.hpp).
//
// Everything here is +, −, ×, ÷ of doubles in a fixed order, integer arithmetic, and
// std::nearbyint / std::ldexp (exact, or correctly rounded, by definition). It must be
// compiled without contraction into fused multiply-adds (-ffp-contract=off, set for
// every file by the Makefile): dd_prod's error term is exact only if a·b is rounded
// before the subtraction.
#include "bt/detmath.hpp"

#include <cmath>
#include <cstring>
#include <utility>
#include <limits>
#include <stdexcept>
#include <string>

namespace bt {

// ================================================================ exact rounding

namespace {

// |x| = m·2^e with an integer m < 2^53 (subnormals included), and the sign.
struct Decomposed {
    u64 m;
    int e;
    bool neg;
};

Decomposed decompose(double x) {
    u64 bits = 0;
    std::memcpy(&bits, &x, sizeof bits);
    const bool neg = (bits >> 63) != 0;
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    const u64 frac = bits & ((u64{1} << 52) - 1);
    if (biased == 0) return {frac, -1074, neg};
    return {frac | (u64{1} << 52), biased - 1075, neg};
}

int bit_length_128(u128 x) { return hi64(x) ? 64 + bit_length(hi64(x)) : bit_length(lo64(x)); }

u64 mod_128(u128 x, u64 q) { return hi64(x) == 0 ? lo64(x) % q : static_cast<u64>(x % q); }

// 2^e mod q by square and multiply.
u64 pow2_mod(unsigned e, u64 q) {
    u64 r = 1 % q, b = 2 % q;
    for (; e; e >>= 1) {
        if (e & 1) r = static_cast<u64>(static_cast<u128>(r) * b % q);
        b = static_cast<u64>(static_cast<u128>(b) * b % q);
    }
    return r;
}

}  // namespace

ExactInt round_mul(double x, double s) {
    if (!std::isfinite(x) || !std::isfinite(s))
        throw std::invalid_argument("round_mul: expected finite values, got " + std::to_string(x) + " times " +
                                    std::to_string(s) + "; check the value and the scale before encoding");
    const Decomposed a = decompose(x), b = decompose(s);
    ExactInt r;
    u128 m = static_cast<u128>(a.m) * b.m;  // < 2^106: the product is m·2^e exactly
    const int e = a.e + b.e;
    if (m == 0) return r;
    if (e >= 0) {
        if (bit_length_128(m) + e <= 126) {
            r.mag = m << e;
        } else {
            r.mag = m;
            r.shift = static_cast<unsigned>(e);
        }
    } else {
        const unsigned k = static_cast<unsigned>(-e);
        if (k > 107) return r;  // |product| < 2^106·2^-107 = 1/2: rounds to 0
        u128 q = m >> k;
        const u128 rem = m - (q << k), half = u128{1} << (k - 1);
        if (rem > half || (rem == half && (q & 1) != 0)) ++q;  // to nearest, ties to even
        r.mag = q;
    }
    r.neg = r.mag != 0 && a.neg != b.neg;
    return r;
}

u64 residue(const ExactInt& v, u64 q) {
    u64 r = mod_128(v.mag, q);
    if (v.shift != 0) r = static_cast<u64>(static_cast<u128>(r) * pow2_mod(v.shift, q) % q);
    return v.neg ? neg_mod(r, q) : r;
}

// ================================================================ double-double

namespace {

// a + b exactly as s + e (Knuth).
DoubleDouble two_sum(double a, double b) {
    const double s = a + b;
    const double bb = s - a;
    return {s, (a - (s - bb)) + (b - bb)};
}

// a + b exactly as s + e, for |a| >= |b| (Dekker).
DoubleDouble quick_two_sum(double a, double b) {
    const double s = a + b;
    return {s, b - (s - a)};
}

// a = hi + lo with 26-bit halves (Veltkamp); |a| < 2^995.
void split(double a, double& hi, double& lo) {
    const double t = 134217729.0 * a;  // 2^27 + 1
    hi = t - (t - a);
    lo = a - hi;
}

DoubleDouble neg(DoubleDouble a) { return {-a.hi, -a.lo}; }

}  // namespace

DoubleDouble dd_prod(double a, double b) {
    const double p = a * b;
    double ah, al, bh, bl;
    split(a, ah, al);
    split(b, bh, bl);
    return {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

DoubleDouble dd_add(DoubleDouble a, DoubleDouble b) {
    DoubleDouble s = two_sum(a.hi, b.hi);
    const DoubleDouble t = two_sum(a.lo, b.lo);
    s.lo += t.hi;
    s = quick_two_sum(s.hi, s.lo);
    s.lo += t.lo;
    return quick_two_sum(s.hi, s.lo);
}

DoubleDouble dd_mul(DoubleDouble a, DoubleDouble b) {
    DoubleDouble p = dd_prod(a.hi, b.hi);
    p.lo += a.hi * b.lo + a.lo * b.hi;
    return quick_two_sum(p.hi, p.lo);
}

DoubleDouble dd_div(DoubleDouble a, DoubleDouble b) {
    const double q1 = a.hi / b.hi;
    DoubleDouble r = dd_add(a, neg(dd_mul(b, {q1, 0})));
    const double q2 = r.hi / b.hi;
    r = dd_add(r, neg(dd_mul(b, {q2, 0})));
    const double q3 = r.hi / b.hi;
    return dd_add(quick_two_sum(q1, q2), {q3, 0});
}

double fp_contract_probe(double a, double b, double c) { return a * b - c; }

// ================================================================ elementary functions

namespace det {

namespace {

// 2π, π/2, ln 2 and 1/ln 2 to 106 bits.
constexpr DoubleDouble kTwoPi{0x1.921fb54442d18p+2, 0x1.1a62633145c07p-52};
constexpr DoubleDouble kHalfPi{0x1.921fb54442d18p+0, 0x1.1a62633145c07p-54};
constexpr DoubleDouble kLn2{0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56};
constexpr double kInvLn2 = 0x1.71547652b82fep+0;

DoubleDouble dd(double x) { return {x, 0}; }

// The reciprocals the series below multiply by, in double-double, computed once
// (multiplying by 1/d is three times cheaper than dividing by d, to the same 2^-104).
struct Reciprocals {
    DoubleDouble sin_den[15], cos_den[15];  // 1/((2j)(2j+1)), 1/((2j−1)(2j)), j = 1 … 14
    DoubleDouble fact[25];                  // 1/j, j = 1 … 24
    DoubleDouble odd[23];                   // 1/(2j+1), j = 0 … 22
    Reciprocals() {
        for (int j = 1; j <= 14; ++j) {
            sin_den[j] = dd_div(dd(1), dd((2.0 * j) * (2.0 * j + 1)));
            cos_den[j] = dd_div(dd(1), dd((2.0 * j - 1) * (2.0 * j)));
        }
        for (int j = 1; j <= 24; ++j) fact[j] = dd_div(dd(1), dd(j));
        for (int j = 0; j <= 22; ++j) odd[j] = dd_div(dd(1), dd(2.0 * j + 1));
    }
};
const Reciprocals& recip() {
    static const Reciprocals r;
    return r;
}

// sin x and cos x for |x| <= π/4 by their Taylor series in nested form,
// sin x = x(1 − x²/(2·3)(1 − x²/(4·5)(1 − …))), cos x = 1 − x²/(1·2)(1 − x²/(3·4)(1 − …)).
// 14 levels: the first omitted terms are below 2^-117 relative.
void sincos_small(DoubleDouble x, DoubleDouble& s, DoubleDouble& c) {
    const Reciprocals& r = recip();
    const DoubleDouble x2 = dd_mul(x, x);
    DoubleDouble ps = dd(1), pc = dd(1);
    for (int j = 14; j >= 1; --j) {
        ps = dd_add(dd(1), neg(dd_mul(dd_mul(x2, ps), r.sin_den[j])));
        pc = dd_add(dd(1), neg(dd_mul(dd_mul(x2, pc), r.cos_den[j])));
    }
    s = dd_mul(x, ps);
    c = pc;
}

// +0 for either zero (a rotation by a quadrant negates exact zeros).
double no_negative_zero(double x) { return x + 0.0; }

// 2πk/m = q·π/2 + t with t = (π/2)·rem/m, rem in [0, m), exactly, in integers; beyond π/4
// inside the quadrant the complement is used (cos t = sin(π/2 − t)): t' = (π/2)·a/m with
// a <= m/2. Symmetric angles share a, so their values are exactly symmetric.
struct Reduced {
    u64 q, a;
    bool complement;
};
Reduced reduce_ratio(u64 k, u64 m) {
    if (m == 0 || m > (u64{1} << 53))
        throw std::invalid_argument("cos_2pi_ratio/sin_2pi_ratio: the denominator must be in 1 .. 2^53, got " +
                                    std::to_string(m));
    k %= m;
    const u128 k4 = static_cast<u128>(k) * 4;
    const u64 q = static_cast<u64>(k4 / m);
    const u64 rem = static_cast<u64>(k4 - static_cast<u128>(q) * m);
    const bool complement = 2 * static_cast<u128>(rem) > m;
    return {q, complement ? m - rem : rem, complement};
}

// cos and sin of t' = (π/2)·a/m, a <= m/2, rounded to double.
void sincos_quarter(u64 a, u64 m, double& c, double& s) {
    const DoubleDouble x = dd_mul(dd_div(dd(static_cast<double>(a)), dd(static_cast<double>(m))), kHalfPi);
    DoubleDouble sx, cx;
    sincos_small(x, sx, cx);
    c = cx.hi;
    s = sx.hi;
}

// cos and sin of the whole angle from those of t' (the complement and the quadrant).
void unreduce(const Reduced& r, double ct, double st, double& c, double& s) {
    if (r.complement) std::swap(ct, st);
    switch (r.q) {
        case 0: c = ct, s = st; break;
        case 1: c = -st, s = ct; break;
        case 2: c = -ct, s = -st; break;
        default: c = st, s = -ct; break;
    }
    c = no_negative_zero(c);
    s = no_negative_zero(s);
}

// e^x for x in double-double, rounded to double: x = k·ln 2 + r, |r| <= ln2/2 (+ a
// little), e^r by its Taylor series in nested form (24 levels: below 2^-120), times 2^k.
double exp_dd(DoubleDouble x) {
    if (std::isnan(x.hi)) return x.hi;
    if (x.hi > 710) return std::numeric_limits<double>::infinity();
    if (x.hi < -746) return 0;
    const Reciprocals& rc = recip();
    const double k = std::nearbyint(x.hi * kInvLn2);
    const DoubleDouble r = dd_add(x, neg(dd_mul(dd(k), kLn2)));
    DoubleDouble e = dd(1);
    for (int j = 24; j >= 1; --j) e = dd_add(dd(1), dd_mul(dd_mul(r, e), rc.fact[j]));
    return std::ldexp(e.hi, static_cast<int>(k));
}

// ln x for x > 0 finite: x = m·2^e with m in [√½, √2), ln m = 2 atanh z, z = (m−1)/(m+1),
// |z| < 0.172, atanh z = z(1 + z²/3 + z⁴/5 + …) (22 levels: below 2^-110).
DoubleDouble log_dd(double x) {
    if (!(x > 0) || !std::isfinite(x))
        throw std::invalid_argument("det::log: expected a finite value above 0, got " + std::to_string(x));
    const Reciprocals& rc = recip();
    int e = 0;
    double m = std::frexp(x, &e);  // exact, m in [1/2, 1)
    if (m < 0.70710678118654752440) {
        m *= 2;
        --e;
    }
    const DoubleDouble z = dd_div(dd(m - 1), two_sum(m, 1));  // m − 1 is exact (Sterbenz)
    const DoubleDouble z2 = dd_mul(z, z);
    DoubleDouble t = rc.odd[22];
    for (int j = 21; j >= 0; --j) t = dd_add(rc.odd[j], dd_mul(z2, t));
    const DoubleDouble ln_m = dd_mul(dd(2), dd_mul(z, t));
    return dd_add(dd_mul(dd(static_cast<double>(e)), kLn2), ln_m);
}

}  // namespace

void cis_2pi_ratio(u64 k, u64 m, double& c, double& s) {
    const Reduced r = reduce_ratio(k, m);
    double ct, st;
    sincos_quarter(r.a, m, ct, st);
    unreduce(r, ct, st, c, s);
}

double cos_2pi_ratio(u64 k, u64 m) {
    double c, s;
    cis_2pi_ratio(k, m, c, s);
    return c;
}

double sin_2pi_ratio(u64 k, u64 m) {
    double c, s;
    cis_2pi_ratio(k, m, c, s);
    return s;
}

std::vector<std::complex<double>> roots_of_unity(u64 m) {
    std::vector<std::complex<double>> out(m + 1);
    if (m % 4 != 0) {  // no symmetry to share: one by one
        for (u64 k = 0; k <= m; ++k) {
            double c, s;
            cis_2pi_ratio(k, m, c, s);
            out[k] = {c, s};
        }
        return out;
    }
    // With 4 | m every a of reduce_ratio is a multiple of 4 in [0, m/2]: compute those
    // m/8 + 1 values once, and every root from one of them exactly as cis_2pi_ratio would.
    std::vector<double> ct(m / 8 + 1), st(m / 8 + 1);
    for (u64 j = 0; j <= m / 8; ++j) sincos_quarter(4 * j, m, ct[j], st[j]);
    for (u64 k = 0; k <= m; ++k) {
        const Reduced r = reduce_ratio(k, m);
        double c, s;
        unreduce(r, ct[r.a / 4], st[r.a / 4], c, s);
        out[k] = {c, s};
    }
    return out;
}

double cos_2pi(double u) {
    if (!std::isfinite(u)) return std::numeric_limits<double>::quiet_NaN();
    const double r = u - std::nearbyint(u);  // exact, in [-1/2, 1/2]
    const double q = std::nearbyint(4 * r);  // quadrant, -2 … 2
    const double f = r - 0.25 * q;           // exact, in [-1/8, 1/8]
    DoubleDouble sx, cx;
    sincos_small(dd_mul(dd(f), kTwoPi), sx, cx);
    switch ((static_cast<int>(q) + 4) % 4) {  // cos(qπ/2 + x)
        case 0: return no_negative_zero(cx.hi);
        case 1: return no_negative_zero(-sx.hi);
        case 2: return no_negative_zero(-cx.hi);
        default: return no_negative_zero(sx.hi);
    }
}

double exp(double x) { return exp_dd(dd(x)); }

double log(double x) { return log_dd(x).hi; }

double pow(double x, double y) {
    if (!std::isfinite(y))
        throw std::invalid_argument("det::pow: expected a finite exponent, got " + std::to_string(y));
    return exp_dd(dd_mul(dd(y), log_dd(x)));
}

}  // namespace det

}  // namespace bt
