// RNS basis, CRT, fast base conversion, ModDown and rescaling (see bt/rns.hpp).
#include "bt/rns.hpp"

#include "bt/cpu.hpp"
#include "bt/threadpool.hpp"
#include "bt/eltwise.hpp"
#include "rns_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace bt {

// ================================================================ basis

RNSBasis::RNSBasis(const std::vector<u64>& moduli) {
    if (moduli.empty()) throw std::invalid_argument("RNSBasis: no moduli");
    for (u64 q : moduli) mods_.emplace_back(q);
    for (std::size_t i = 0; i < moduli.size(); ++i)
        for (std::size_t j = i + 1; j < moduli.size(); ++j) {
            u64 a = moduli[i], b = moduli[j];
            while (b) {
                const u64 t = a % b;
                a = b;
                b = t;
            }
            if (a != 1)
                throw std::invalid_argument("RNSBasis: moduli " + std::to_string(moduli[i]) + " and " +
                                            std::to_string(moduli[j]) + " are not coprime");
        }
    product_ = BigUInt(1);
    for (u64 q : moduli) product_.mul_word(q);
    half_product_ = product_;
    half_product_.shift_right(1);
    for (std::size_t i = 0; i < moduli.size(); ++i) {
        BigUInt qh = product_;
        qh.divmod_word(moduli[i]);
        qhat_.push_back(qh);
        const u64 inv = inv_mod(qh.mod_word(moduli[i]), moduli[i]);
        qhat_inv_.push_back(inv);
        qhat_inv_shoup_.push_back(shoup_precompute(inv, moduli[i]));
    }
    const std::size_t k = moduli.size();
    garner_inv_.assign(k * k, 0);
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < i; ++j) garner_inv_[i * k + j] = inv_mod(moduli[j] % moduli[i], moduli[i]);
    long double r = 1;
    for (std::size_t i = 0; i < k; ++i) {
        radix_.push_back(r);
        r *= static_cast<long double>(moduli[i]);
    }
}

std::vector<u64> RNSBasis::values() const {
    std::vector<u64> v;
    for (const Modulus& m : mods_) v.push_back(m.value);
    return v;
}

RNSBasis RNSBasis::slice(std::size_t first, std::size_t count) const {
    if (first + count > mods_.size() || count == 0)
        throw std::invalid_argument("RNSBasis::slice: [" + std::to_string(first) + ", " +
                                    std::to_string(first + count) + ") outside a basis of " +
                                    std::to_string(mods_.size()));
    const std::vector<u64> v = values();
    return RNSBasis(std::vector<u64>(v.begin() + static_cast<long>(first),
                                     v.begin() + static_cast<long>(first + count)));
}

RNSBasis RNSBasis::concat(const RNSBasis& other) const {
    std::vector<u64> v = values();
    for (const Modulus& m : other.mods_) v.push_back(m.value);
    return RNSBasis(v);
}

BigUInt RNSBasis::reconstruct(const u64* residues, std::size_t stride) const {
    // x = Σ [x_i · (Q/q_i)^{-1}]_{q_i} · (Q/q_i)  mod Q
    BigUInt x;
    for (std::size_t i = 0; i < mods_.size(); ++i) {
        const u64 r = residues[i * stride];
        if (r >= mods_[i].value)
            throw std::invalid_argument("RNSBasis::reconstruct: residue " + std::to_string(r) +
                                        " not below its modulus " + std::to_string(mods_[i].value));
        BigUInt term = qhat_[i];
        term.mul_word(mul_mod(r, qhat_inv_[i], mods_[i]));
        x += term;
    }
    BigUInt quot, rem;
    x.divmod(product_, quot, rem);
    return rem;
}

void RNSBasis::decompose(const BigUInt& x, u64* residues, std::size_t stride) const {
    for (std::size_t i = 0; i < mods_.size(); ++i) residues[i * stride] = x.mod_word(mods_[i].value);
}

long double RNSBasis::reconstruct_centered(const u64* residues, std::size_t stride) const {
    const BigUInt x = reconstruct(residues, stride);
    if (half_product_ < x) return -(product_ - x).to_long_double();
    return x.to_long_double();
}

long double RNSBasis::compose_centered(const u64* residues, std::size_t stride) const {
    // x = v_0 + v_1 q_0 + v_2 q_0 q_1 + ..., v_i balanced. v_i is found mod q_i by
    // peeling the lower digits: t = (...((x_i - v_0) q_0^{-1} - v_1) q_1^{-1} ...).
    const std::size_t k = mods_.size();
    i64 digits[64];
    if (k > 64) throw std::invalid_argument("compose_centered: more than 64 moduli");
    for (std::size_t i = 0; i < k; ++i) {
        const Modulus& m = mods_[i];
        u64 t = residues[i * stride];
        for (std::size_t j = 0; j < i; ++j) {
            const u64 vj = from_signed(digits[j] % static_cast<i64>(m.value), m.value);
            t = mul_mod(sub_mod(t, vj, m.value), garner_inv_[i * k + j], m);
        }
        digits[i] = to_centered(t, m.value);
    }
    long double x = 0;
    for (std::size_t i = k; i-- > 0;) x += static_cast<long double>(digits[i]) * radix_[i];
    return x;
}

// ================================================================ base conversion

BaseConverter::BaseConverter(const RNSBasis& from, const RNSBasis& to) : from_(from), to_(to) {
    const std::size_t na = from.size(), nb = to.size();
    if (na > 64) throw std::invalid_argument("BaseConverter: more than 64 source moduli");
    for (std::size_t i = 0; i < na; ++i) {
        (from[i].value < (u64{1} << 52) ? small_rows_ : big_rows_).push_back(static_cast<unsigned>(i));
        max_from_bits_ = std::max(max_from_bits_, from[i].bits);
    }
    for (std::size_t j = 0; j < nb; ++j) {
        const u64 b = to[j].value, am = from.product().mod_word(b), neg = am == 0 ? 0 : b - am;
        a_mod_b_.push_back(am);
        neg_a_mod_b_.push_back(neg);
        neg_a_mod_b_shoup_.push_back(shoup_precompute(neg, b));
    }
    for (std::size_t i = 0; i < na; ++i) inv_a_.push_back(1.0 / static_cast<double>(from[i].value));
    qhat_mod_b_.resize(na * nb);
    qhat_mod_b_shoup_.resize(na * nb);
    for (std::size_t i = 0; i < na; ++i) {
        BigUInt qh = from.product();
        qh.divmod_word(from[i].value);
        for (std::size_t j = 0; j < nb; ++j) {
            qhat_mod_b_[j * na + i] = qh.mod_word(to[j].value);
            qhat_mod_b_shoup_[j * na + i] = shoup_precompute(qhat_mod_b_[j * na + i], to[j].value);
        }
    }
    const bool ifma = simd_path() == SimdPath::AVX512IFMA;
    ifma_sources_ = ifma && big_rows_.size() <= 7 && max_from_bits_ <= 61;
    const bool wide_sources = ifma && max_from_bits_ <= 62 && na <= detail::kWideIfmaMaxRows;
    for (std::size_t j = 0; j < nb; ++j) {
        const u64 b = to[j].value;
        if (b < (u64{1} << 50))
            kernel_.push_back(ifma_sources_ ? TargetKernel::Ifma : TargetKernel::Portable);
        else
            kernel_.push_back(wide_sources && b < (u64{1} << 62) ? TargetKernel::WideIfma : TargetKernel::Portable);
    }
}


bool BaseConverter::target_simd(TargetKernel kind, [[maybe_unused]] const u64* y, [[maybe_unused]] std::size_t stride,
                                [[maybe_unused]] std::size_t j, [[maybe_unused]] u64* out,
                                [[maybe_unused]] std::size_t len, [[maybe_unused]] const u64* v) const {
#if defined(__x86_64__)
    const std::size_t na = from_.size();
    const u64 b = to_[j].value;
    if (kind == TargetKernel::Ifma) {
        detail::base_conv_target_ifma(y, stride, small_rows_.data(), small_rows_.size(), big_rows_.data(),
                                      big_rows_.size(), &qhat_mod_b_[j * na], v, a_mod_b_[j], len, b, out);
        return true;
    }
    if (kind == TargetKernel::WideIfma) {
        detail::base_conv_target_wide_ifma(y, stride, na, &qhat_mod_b_[j * na], &qhat_mod_b_shoup_[j * na], v,
                                           neg_a_mod_b_[j], neg_a_mod_b_shoup_[j], len, b, out);
        return true;
    }
#else
    (void)kind;
#endif
    return false;
}

namespace {
std::vector<u64*> contiguous_limbs(u64* out, std::size_t count, std::size_t n) {
    std::vector<u64*> v(count);
    for (std::size_t j = 0; j < count; ++j) v[j] = out + j * n;
    return v;
}
}  // namespace

void BaseConverter::convert(const u64* in, u64* out, std::size_t n) const {
    convert_impl(in, contiguous_limbs(out, to_.size(), n).data(), n, false);
}

void BaseConverter::convert(const u64* in, u64* const* out, std::size_t n) const { convert_impl(in, out, n, false); }

void BaseConverter::convert_centered(const u64* in, u64* out, std::size_t n) const {
    convert_impl(in, contiguous_limbs(out, to_.size(), n).data(), n, true);
}

void BaseConverter::scale_source(std::size_t i, const u64* x, u64* y, std::size_t n) const {
    eltwise_mul_scalar_mod(y, x, from_.qhat_inv(i), n, from_[i]);
}

void BaseConverter::convert_target(const u64* y, std::size_t stride, std::size_t j, u64* out, std::size_t n,
                                   const u64* v) const {
    const std::size_t na = from_.size();
    const Modulus& b = to_[j];
    const u64* c = &qhat_mod_b_[j * na];
    if (target_simd(kernel_[j], y, stride, j, out, n, v)) return;
    constexpr std::size_t kBlock = 256;
    u128 acc[kBlock];
    const u64 am = a_mod_b_[j];
    for (std::size_t k0 = 0; k0 < n; k0 += kBlock) {
        const std::size_t len = std::min(kBlock, n - k0);
        accumulate(y + k0, stride, c, j, len, acc);
        u64* o = out + k0;
        if (v) {
            for (std::size_t k = 0; k < len; ++k)
                o[k] = sub_mod(barrett_reduce_128(acc[k], b), mul_mod(v[k0 + k] % b.value, am, b), b.value);
        } else {
            for (std::size_t k = 0; k < len; ++k) o[k] = barrett_reduce_128(acc[k], b);
        }
    }
}

void BaseConverter::overflow(const u64* y, std::size_t stride, u64* v, std::size_t n) const {
    const std::size_t na = from_.size();
#if defined(__x86_64__)
    if (ifma_sources_) {
        detail::base_conv_overflow_avx512(y, stride, na, inv_a_.data(), n, v);
        return;
    }
#endif
    // Branch-free on the (possibly secret) residues: y < 2^62 converts through int64 (one
    // cvtsi2sd, no test of the top bit), and f >= 0 rounds to nearest, ties to even, by the
    // 2^52 trick below (no branches on the magnitude, as std::llround or nearbyint may have).
    for (std::size_t k = 0; k < n; ++k) {
        double f = 0;
        for (std::size_t i = 0; i < na; ++i)
            f += static_cast<double>(static_cast<std::int64_t>(y[i * stride + k])) * inv_a_[i];
        // 0 <= f < 2^52: adding and removing 2^52 rounds to the nearest integer, ties to
        // even (as std::nearbyint and the AVX-512 kernel), with no branch.
        const double r = (f + 0x1p52) - 0x1p52;
        v[k] = static_cast<u64>(static_cast<std::int64_t>(r));
    }
}

void BaseConverter::accumulate(const u64* y, std::size_t stride, const u64* c, std::size_t j, std::size_t len,
                               u128* acc) const {
    // Scalar: each product is < 2^124, so 16 of them fit a u128 before a reduction.
    const Modulus& b = to_[j];
    const std::size_t na = from_.size();
    for (std::size_t k = 0; k < len; ++k) acc[k] = 0;
    for (std::size_t i = 0; i < na; ++i) {
        const u64* yi = y + i * stride;
        const u64 ci = c[i];
        for (std::size_t k = 0; k < len; ++k) acc[k] += static_cast<u128>(yi[k]) * ci;
        if ((i & 15) == 15)
            for (std::size_t k = 0; k < len; ++k) acc[k] = barrett_reduce_128(acc[k], b);
    }
}

void BaseConverter::convert_impl(const u64* in, u64* const* out, std::size_t n, bool centered) const {
    const std::size_t na = from_.size(), nb = to_.size();
    constexpr std::size_t kBlock = 256;
    const std::size_t blocks = (n + kBlock - 1) / kBlock;
    // Blocks of coefficients are independent: each computes its y_i and every output
    // limb while they are in L1, and blocks run on the thread pool for large n.
    auto block = [&](std::size_t b_idx, unsigned) {
        const std::size_t k0 = b_idx * kBlock, len = std::min(kBlock, n - k0);
        u64 y[64 * kBlock];  // na <= 64 (checked in the constructor)
        // y_i = x_i · (A/a_i)^{-1} mod a_i, in [0, a_i)
        for (std::size_t i = 0; i < na; ++i)
            eltwise_mul_scalar_mod(y + i * kBlock, in + i * n + k0, from_.qhat_inv(i), len, from_[i]);
        // Centred: v = round(Σ_i y_i / a_i) is how many times A the sum exceeds x_c.
        u64 v[kBlock];
        if (centered) {
#if defined(__x86_64__)
            if (ifma_sources_)
                detail::base_conv_overflow_avx512(y, kBlock, na, inv_a_.data(), len, v);
            else
#endif
                for (std::size_t k = 0; k < len; ++k) {
                    double f = 0;
                    for (std::size_t i = 0; i < na; ++i) f += static_cast<double>(y[i * kBlock + k]) * inv_a_[i];
                    v[k] = static_cast<u64>(std::nearbyint(f));  // ties to even, as the AVX-512 kernel
                }
        }
        // out_j = Σ_i y_i · (A/a_i mod b_j) mod b_j  (minus v·A when centred).
        u128 acc[kBlock];
        for (std::size_t j = 0; j < nb; ++j) {
            const Modulus& b = to_[j];
            const u64* c = &qhat_mod_b_[j * na];
            u64* o = out[j] + k0;
            if (target_simd(kernel_[j], y, kBlock, j, o, len, centered ? v : nullptr)) continue;
            accumulate(y, kBlock, c, j, len, acc);
            if (centered) {
                const u64 am = a_mod_b_[j];
                for (std::size_t k = 0; k < len; ++k)
                    o[k] = sub_mod(barrett_reduce_128(acc[k], b), mul_mod(v[k] % b.value, am, b), b.value);
            } else {
                for (std::size_t k = 0; k < len; ++k) o[k] = barrett_reduce_128(acc[k], b);
            }
        }
    };
    if (n >= 4096)
        parallel_for(blocks, block);
    else
        for (std::size_t b = 0; b < blocks; ++b) block(b, 0);
}

// ================================================================ ModDown

ModDown::ModDown(const RNSBasis& Q, const RNSBasis& P) : conv_(P, Q) {
    for (std::size_t i = 0; i < Q.size(); ++i) {
        const u64 q = Q[i].value;
        const u64 inv = inv_mod(P.product().mod_word(q), q);
        p_inv_.push_back(inv);
        p_inv_shoup_.push_back(shoup_precompute(inv, q));
    }
}

void ModDown::apply(u64* x_q, const u64* x_p, std::size_t n) const {
    const RNSBasis& Q = conv_.to();
    std::vector<u64> t(Q.size() * n);
    conv_.convert_centered(x_p, t.data(), n);
    for (std::size_t i = 0; i < Q.size(); ++i) {
        const u64 q = Q[i].value, w = p_inv_[i], ws = p_inv_shoup_[i];
        u64* x = x_q + i * n;
        const u64* ti = t.data() + i * n;
        for (std::size_t k = 0; k < n; ++k) x[k] = mul_shoup(sub_mod(x[k], ti[k], q), w, ws, q);
    }
}

// ================================================================ rescale

void divide_round_by_last(u64* data, std::size_t n, const RNSBasis& basis) {
    const std::size_t l = basis.size() - 1;
    if (l == 0) throw std::invalid_argument("divide_round_by_last: a basis of one modulus cannot be rescaled");
    const Modulus& ql = basis[l];
    const u64 half = ql.value >> 1;
    u64* last = data + l * n;
    // r = (x + floor(q_l/2)) mod q_l
    for (std::size_t k = 0; k < n; ++k) last[k] = add_mod(last[k], half, ql.value);
    for (std::size_t i = 0; i < l; ++i) {
        const Modulus& qi = basis[i];
        const u64 q = qi.value;
        const u64 half_i = barrett_reduce_64(half, qi);
        const u64 inv = inv_mod(barrett_reduce_64(ql.value, qi), q), inv_s = shoup_precompute(inv, q);
        u64* x = data + i * n;
        for (std::size_t k = 0; k < n; ++k) {
            // ((x + h) - r) / q_l  mod q_i, where (x + h) - r is divisible by q_l
            const u64 r = barrett_reduce_64(last[k], qi);
            const u64 v = sub_mod(add_mod(x[k], half_i, q), r, q);
            x[k] = mul_shoup(v, inv, inv_s, q);
        }
    }
}

}  // namespace bt
