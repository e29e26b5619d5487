// CKKS encoder: special FFT, rounding into RNS, and decoding (see bt/ckks/encoder.hpp).
//
// Determinism across targets: the roots of unity come from det::cos_2pi_ratio /
// sin_2pi_ratio and the coefficients are rounded by round_mul (bt/detmath.hpp), so an
// encoding is the same on x86-64 and aarch64, bit for bit; no long double on this path.
// Only decode (the client's side) still uses long double, for its centred lift.
#include "bt/ckks/encoder.hpp"

#include "bt/detmath.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace bt::ckks {

namespace {

void bit_reverse_permute(cplx* v, std::size_t n) {
    for (std::size_t i = 1, j = 0; i < n; ++i) {
        std::size_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) std::swap(v[i], v[j]);
    }
}

}  // namespace

Encoder::Encoder(ParamsPtr params) : params_(std::move(params)) {
    const std::size_t n = params_->N();
    m_ = 2 * n;
    roots_ = det::roots_of_unity(m_);  // angles reduced exactly, double-double, rounded once
    rot_.resize(n / 2);
    std::uint64_t g = 1;
    for (std::size_t j = 0; j < n / 2; ++j) {
        rot_[j] = g;
        g = (g * 5) % m_;
    }
}

void Encoder::check_slots(std::size_t slots) const {
    if (slots == 0 || (slots & (slots - 1)) != 0 || slots > params_->max_slots())
        throw std::invalid_argument("CKKS encoder: " + std::to_string(slots) +
                                    " slots is not a power of two in [1, N/2 = " +
                                    std::to_string(params_->max_slots()) + "]");
}

namespace {

// The complex product by its formula, for finite operands: std::complex's operator* also
// tests for NaN results (C99 Annex G), a branch on the data; decoding works on decrypted
// (secret) values, so the check must not be there. Same result for finite values.
inline cplx mul_finite(const cplx& a, const cplx& b) {
    return cplx(a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real());
}

}  // namespace

void Encoder::fft_special(cplx* v, std::size_t n) const {
    bit_reverse_permute(v, n);
    for (std::size_t len = 2; len <= n; len <<= 1) {
        const std::size_t half = len >> 1, lenq = len << 2, step = m_ / lenq;
        for (std::size_t i = 0; i < n; i += len) {
            for (std::size_t j = 0; j < half; ++j) {
                const cplx u = v[i + j];
                const cplx w = mul_finite(v[i + j + half], roots_[(rot_[j] % lenq) * step]);
                v[i + j] = u + w;
                v[i + j + half] = u - w;
            }
        }
    }
}

void Encoder::fft_special_inv(cplx* v, std::size_t n) const {
    for (std::size_t len = n; len >= 2; len >>= 1) {
        const std::size_t half = len >> 1, lenq = len << 2, step = m_ / lenq;
        for (std::size_t i = 0; i < n; i += len) {
            for (std::size_t j = 0; j < half; ++j) {
                const cplx u = v[i + j] + v[i + j + half];
                const cplx w = (v[i + j] - v[i + j + half]) * roots_[(lenq - rot_[j] % lenq) * step];
                v[i + j] = u;
                v[i + j + half] = w;
            }
        }
    }
    bit_reverse_permute(v, n);
    const double inv = 1.0 / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) v[i] *= inv;
}

std::uint64_t Encoder::galois_element(long steps, std::size_t slots) const {
    if (slots == 0) slots = params_->max_slots();
    check_slots(slots);
    const long n = static_cast<long>(slots);
    const std::uint64_t r = static_cast<std::uint64_t>(((steps % n) + n) % n);
    std::uint64_t g = 1, b = 5, e = r;
    while (e) {
        if (e & 1) g = g * b % m_;
        b = b * b % m_;
        e >>= 1;
    }
    return g;
}

void coeffs_to_rns(const Params& P, const std::vector<double>& values, double scale, std::size_t gap,
                   std::size_t level, Poly& out) {
    const std::size_t N = P.N();
    out = Poly(N, level + 1, false);
    for (std::size_t k = 0; k < values.size(); ++k) {
        if (!std::isfinite(values[k]))
            throw std::invalid_argument("CKKS encoder: a value to encode is not finite (" + std::to_string(values[k]) +
                                        "); check the input for NaN or infinity");
        const ExactInt v = round_mul(values[k], scale);
        const std::size_t pos = k * gap;
        for (std::size_t l = 0; l <= level; ++l) out.limb(l)[pos] = residue(v, P.q(l));
    }
}

Plaintext Encoder::encode(const std::vector<cplx>& z, std::size_t level, double scale, std::size_t slots) const {
    const Params& P = *params_;
    if (slots == 0) slots = P.max_slots();
    check_slots(slots);
    if (z.size() > slots)
        throw std::invalid_argument("CKKS encoder: " + std::to_string(z.size()) + " values do not fit in " +
                                    std::to_string(slots) + " slots");
    if (level > P.max_level())
        throw std::invalid_argument("CKKS encoder: level " + std::to_string(level) + " above the top level " +
                                    std::to_string(P.max_level()));
    if (scale == 0) scale = P.nominal_scale(level);
    if (!(scale >= 1)) throw std::invalid_argument("CKKS encoder: scale must be >= 1");
    std::vector<cplx> w(slots, cplx(0, 0));
    for (std::size_t i = 0; i < z.size(); ++i) w[i] = z[i];
    fft_special_inv(w.data(), slots);
    std::vector<double> c(2 * slots);
    for (std::size_t k = 0; k < slots; ++k) {
        c[k] = w[k].real();
        c[k + slots] = w[k].imag();
    }
    Plaintext pt;
    coeffs_to_rns(P, c, scale, P.N() / (2 * slots), level, pt.poly);
    to_ntt(P, pt.poly, level);
    pt.level = level;
    pt.scale = scale;
    pt.slots = slots;
    return pt;
}

Plaintext Encoder::encode(const std::vector<double>& x, std::size_t level, double scale, std::size_t slots) const {
    std::vector<cplx> z(x.begin(), x.end());
    return encode(z, level, scale, slots);
}

Plaintext Encoder::encode_constant(double c, std::size_t level, double scale, std::size_t slots) const {
    const Params& P = *params_;
    if (slots == 0) slots = P.max_slots();
    check_slots(slots);
    if (level > P.max_level()) throw std::invalid_argument("CKKS encoder: level above the top level");
    if (scale == 0) scale = P.nominal_scale(level);
    // A constant c in every slot is the constant polynomial c (evaluations all equal c).
    Plaintext pt;
    coeffs_to_rns(P, std::vector<double>{c}, scale, 1, level, pt.poly);
    to_ntt(P, pt.poly, level);
    pt.level = level;
    pt.scale = scale;
    pt.slots = slots;
    return pt;
}

std::vector<cplx> Encoder::decode(const Plaintext& pt) const {
    const Params& P = *params_;
    check_slots(pt.slots);
    Poly a = pt.poly;
    if (a.ntt) from_ntt(P, a, pt.level);
    const std::size_t n = pt.slots, gap = P.N() / (2 * n);
    const RNSBasis& B = P.basis_q(pt.level);
    std::vector<cplx> w(n);
    std::vector<u64> res(pt.level + 1);
    auto coeff = [&](std::size_t pos) {
        for (std::size_t l = 0; l <= pt.level; ++l) res[l] = a.limb(l)[pos];
        return B.compose_centered(res.data()) / static_cast<long double>(pt.scale);
    };
    for (std::size_t k = 0; k < n; ++k)
        w[k] = cplx(static_cast<double>(coeff(k * gap)), static_cast<double>(coeff((k + n) * gap)));
    fft_special(w.data(), n);
    return w;
}

}  // namespace bt::ckks
