// Negacyclic NTT: tables, the textbook reference, the lazy scalar kernel, and the
// run-time dispatch to the SIMD kernels (src/math/ntt_avx2.cpp, ntt_avx512.cpp).
#include "bt/ntt.hpp"

#include "bt/primes.hpp"
#include "kernels.hpp"

#include <string>

namespace bt {

// ================================================================ tables

std::size_t bit_reverse(std::size_t x, int bits) {
    std::size_t r = 0;
    for (int i = 0; i < bits; ++i) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

NTTTables::NTTTables(std::size_t N, u64 q) : n_(N), log_n_(0), mod_(q) {
    if (N < 16 || N > (std::size_t{1} << 17) || (N & (N - 1)) != 0)
        throw std::invalid_argument("NTTTables: N = " + std::to_string(N) +
                                    " is not a power of two in [2^4, 2^17]");
    while ((std::size_t{1} << log_n_) < N) ++log_n_;
    psi_ = minimal_primitive_root_2n(q, N);  // also checks q prime, q = 1 mod 2N
    const u64 psi_inv = inv_mod(psi_, q);

    fwd_.assign(N, 0);
    inv_.assign(N, 0);
    u64 p = 1, pi = 1;
    for (std::size_t i = 0; i < N; ++i) {  // p = ψ^i, pi = ψ^-i
        const std::size_t r = bit_reverse(i, log_n_);
        fwd_[r] = p;
        inv_[r] = pi;
        p = mul_mod(p, psi_, mod_);
        pi = mul_mod(pi, psi_inv, mod_);
    }
    fwd_shoup_.resize(N);
    inv_shoup_.resize(N);
    for (std::size_t i = 0; i < N; ++i) {
        fwd_shoup_[i] = shoup_precompute(fwd_[i], q);
        inv_shoup_[i] = shoup_precompute(inv_[i], q);
    }
    inv_n_ = inv_mod(static_cast<u64>(N) % q, q);
    inv_n_shoup_ = shoup_precompute(inv_n_, q);
    if (ifma_capable()) {
        auto shoup52 = [q](u64 w) { return static_cast<u64>((static_cast<u128>(w) << 52) / q); };
        fwd_shoup52_.resize(N);
        inv_shoup52_.resize(N);
        for (std::size_t i = 0; i < N; ++i) {
            fwd_shoup52_[i] = shoup52(fwd_[i]);
            inv_shoup52_[i] = shoup52(inv_[i]);
        }
        inv_n_shoup52_ = shoup52(inv_n_);
    }
}

// ================================================================ reference tier

void ntt_forward_ref(u64* a, const NTTTables& t) {
    const std::size_t n = t.N();
    const Modulus& m = t.modulus();
    const u64 q = m.value;
    std::size_t span = n;
    for (std::size_t groups = 1; groups < n; groups <<= 1) {
        span >>= 1;
        for (std::size_t i = 0; i < groups; ++i) {
            const u64 w = t.fwd()[groups + i];
            u64* x = a + 2 * i * span;
            u64* y = x + span;
            for (std::size_t j = 0; j < span; ++j) {
                const u64 u = x[j], v = mul_mod(y[j], w, m);
                x[j] = add_mod(u, v, q);
                y[j] = sub_mod(u, v, q);
            }
        }
    }
}

void ntt_inverse_ref(u64* a, const NTTTables& t) {
    const std::size_t n = t.N();
    const Modulus& m = t.modulus();
    const u64 q = m.value;
    std::size_t span = 1;
    for (std::size_t groups = n >> 1; groups >= 1; groups >>= 1) {
        for (std::size_t i = 0; i < groups; ++i) {
            const u64 w = t.inv()[groups + i];
            u64* x = a + 2 * i * span;
            u64* y = x + span;
            for (std::size_t j = 0; j < span; ++j) {
                const u64 u = x[j], v = y[j];
                x[j] = add_mod(u, v, q);
                y[j] = mul_mod(sub_mod(u, v, q), w, m);
            }
        }
        span <<= 1;
    }
    for (std::size_t i = 0; i < n; ++i) a[i] = mul_mod(a[i], t.inv_n(), m);
}

void ntt_forward_naive(u64* a, const NTTTables& t) {
    const std::size_t n = t.N();
    const Modulus& m = t.modulus();
    std::vector<u64> out(n);
    for (std::size_t k = 0; k < n; ++k) {
        const u64 x = pow_mod(t.psi(), 2 * bit_reverse(k, t.log_n()) + 1, m);
        u64 acc = 0, xp = 1;  // Horner would do too; this reads as the definition
        for (std::size_t j = 0; j < n; ++j) {
            acc = mul_add_mod(acc, a[j], xp, m);
            xp = mul_mod(xp, x, m);
        }
        out[k] = acc;
    }
    for (std::size_t k = 0; k < n; ++k) a[k] = out[k];
}

// ================================================================ scalar tier

void reduce_from_lazy(u64* a, std::size_t n, u64 q, unsigned factor) {
    if (factor == 1) return;
    const u64 q2 = 2 * q;
    for (std::size_t i = 0; i < n; ++i) {
        u64 x = a[i];
        if (factor == 4) x = x >= q2 ? x - q2 : x;  // [0, 2q)
        a[i] = x >= q ? x - q : x;
    }
}

namespace detail {

// Harvey's lazy Cooley–Tukey butterflies. Invariant between stages: values in [0, 4q).
void ntt_forward_scalar(u64* a, const NTTTables& t, unsigned /*in_factor*/, unsigned out_factor) {
    const std::size_t n = t.N();
    const u64 q = t.q(), q2 = 2 * q;
    const u64* w = t.fwd();
    const u64* ws = t.fwd_shoup();
    std::size_t span = n;
    for (std::size_t groups = 1; groups < n; groups <<= 1) {
        span >>= 1;
        for (std::size_t i = 0; i < groups; ++i) {
            const u64 wi = w[groups + i], wsi = ws[groups + i];
            u64* x = a + 2 * i * span;
            u64* y = x + span;
            for (std::size_t j = 0; j < span; ++j) {
                // x, y in [0, 4q) -> x', y' in [0, 4q)
                u64 u = x[j];
                u = u >= q2 ? u - q2 : u;                      // [0, 2q)
                const u64 v = mul_shoup_lazy(y[j], wi, wsi, q);  // [0, 2q)
                x[j] = u + v;
                y[j] = u - v + q2;
            }
        }
    }
    if (out_factor == 1) reduce_from_lazy(a, n, q, 4);
}

// Harvey's lazy Gentleman–Sande butterflies. Invariant: values in [0, 2q).
void ntt_inverse_scalar(u64* a, const NTTTables& t, unsigned /*in_factor*/, unsigned out_factor) {
    const std::size_t n = t.N();
    const u64 q = t.q(), q2 = 2 * q;
    const u64* w = t.inv();
    const u64* ws = t.inv_shoup();
    std::size_t span = 1;
    for (std::size_t groups = n >> 1; groups >= 1; groups >>= 1) {
        for (std::size_t i = 0; i < groups; ++i) {
            const u64 wi = w[groups + i], wsi = ws[groups + i];
            u64* x = a + 2 * i * span;
            u64* y = x + span;
            for (std::size_t j = 0; j < span; ++j) {
                // x, y in [0, 2q) -> x', y' in [0, 2q)
                const u64 u = x[j], v = y[j];
                u64 s = u + v;
                x[j] = s >= q2 ? s - q2 : s;
                y[j] = mul_shoup_lazy(u - v + q2, wi, wsi, q);
            }
        }
        span <<= 1;
    }
    const u64 ni = t.inv_n(), nis = t.inv_n_shoup();
    for (std::size_t i = 0; i < n; ++i) a[i] = mul_shoup_lazy(a[i], ni, nis, q);  // [0, 2q)
    if (out_factor == 1) reduce_from_lazy(a, n, q, 2);
}

}  // namespace detail

// ================================================================ dispatch

namespace {

void check_factors(const char* what, unsigned in_factor, unsigned out_factor, bool forward) {
    const bool in_ok = forward ? (in_factor == 1 || in_factor == 2 || in_factor == 4)
                               : (in_factor == 1 || in_factor == 2);
    const bool out_ok = forward ? (out_factor == 1 || out_factor == 4) : (out_factor == 1 || out_factor == 2);
    if (!in_ok || !out_ok)
        throw std::invalid_argument(std::string(what) + ": lazy factors in=" + std::to_string(in_factor) +
                                    " out=" + std::to_string(out_factor) +
                                    (forward ? " unsupported; expected in in {1,2,4}, out in {1,4}"
                                             : " unsupported; expected in in {1,2}, out in {1,2}"));
}

}  // namespace

void ntt_forward_path(SimdPath p, u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor) {
    check_factors("ntt_forward", in_factor, out_factor, true);
    require_simd_path(p);
    switch (p) {
#if defined(__x86_64__)
        case SimdPath::AVX2: return detail::ntt_forward_avx2(a, t, in_factor, out_factor);
        case SimdPath::AVX512: return detail::ntt_forward_avx512(a, t, in_factor, out_factor);
        case SimdPath::AVX512IFMA:
            if (t.ifma_capable()) return detail::ntt_forward_avx512ifma(a, t, in_factor, out_factor);
            return detail::ntt_forward_avx512(a, t, in_factor, out_factor);
#endif
        default: return detail::ntt_forward_scalar(a, t, in_factor, out_factor);
    }
}

void ntt_inverse_path(SimdPath p, u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor) {
    check_factors("ntt_inverse", in_factor, out_factor, false);
    require_simd_path(p);
    switch (p) {
#if defined(__x86_64__)
        case SimdPath::AVX2: return detail::ntt_inverse_avx2(a, t, in_factor, out_factor);
        case SimdPath::AVX512: return detail::ntt_inverse_avx512(a, t, in_factor, out_factor);
        case SimdPath::AVX512IFMA:
            if (t.ifma_capable()) return detail::ntt_inverse_avx512ifma(a, t, in_factor, out_factor);
            return detail::ntt_inverse_avx512(a, t, in_factor, out_factor);
#endif
        default: return detail::ntt_inverse_scalar(a, t, in_factor, out_factor);
    }
}

void ntt_forward(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor) {
    ntt_forward_path(simd_path(), a, t, in_factor, out_factor);
}

void ntt_inverse(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor) {
    ntt_inverse_path(simd_path(), a, t, in_factor, out_factor);
}

void ntt_forward_rns(u64* data, const NTTTables* const* tables, std::size_t limbs) {
    for (std::size_t l = 0; l < limbs; ++l) ntt_forward(data + l * tables[l]->N(), *tables[l]);
}

void ntt_inverse_rns(u64* data, const NTTTables* const* tables, std::size_t limbs) {
    for (std::size_t l = 0; l < limbs; ++l) ntt_inverse(data + l * tables[l]->N(), *tables[l]);
}

}  // namespace bt
