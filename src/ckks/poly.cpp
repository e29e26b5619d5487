// Limb-wise operations on RNS polynomials (see bt/ckks/poly.hpp).
#include "bt/ckks/poly.hpp"

#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"
#include "bt/secure.hpp"
#include "bt/threadpool.hpp"

#include <array>
#include <mutex>
#include <stdexcept>

namespace bt::ckks {

void Poly::wipe() { secure_wipe(data.data(), data.size() * sizeof(u64)); }

void for_each_limb(std::size_t limbs, std::size_t n, const std::function<void(std::size_t)>& fn) {
    if (n >= 4096 && limbs > 1)
        parallel_for(limbs, [&](std::size_t i, unsigned) { fn(i); });
    else
        for (std::size_t i = 0; i < limbs; ++i) fn(i);
}

void to_ntt(const Params& P, Poly& a, std::size_t level, bool with_p) {
    const std::size_t limbs = level + 1 + (with_p ? P.p_count() : 0);
    if (a.limbs < limbs) throw std::logic_error("to_ntt: polynomial has too few limbs");
    for_each_limb(limbs, a.n, [&](std::size_t i) { ntt_forward(a.limb(i), P.ntt(rns_index(P, level, i))); });
    a.ntt = true;
}

void from_ntt(const Params& P, Poly& a, std::size_t level, bool with_p) {
    const std::size_t limbs = level + 1 + (with_p ? P.p_count() : 0);
    if (a.limbs < limbs) throw std::logic_error("from_ntt: polynomial has too few limbs");
    for_each_limb(limbs, a.n, [&](std::size_t i) { ntt_inverse(a.limb(i), P.ntt(rns_index(P, level, i))); });
    a.ntt = false;
}

void poly_add(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs) {
    for_each_limb(limbs, a.n, [&](std::size_t i) {
        eltwise_add_mod(r.limb(i), a.limb(i), b.limb(i), a.n, P.modulus(rns_index(P, level, i)));
    });
}

void poly_sub(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs) {
    for_each_limb(limbs, a.n, [&](std::size_t i) {
        eltwise_sub_mod(r.limb(i), a.limb(i), b.limb(i), a.n, P.modulus(rns_index(P, level, i)));
    });
}

void poly_neg(const Params& P, std::size_t level, Poly& r, const Poly& a, std::size_t limbs) {
    for_each_limb(limbs, a.n, [&](std::size_t i) {
        eltwise_neg_mod(r.limb(i), a.limb(i), a.n, P.modulus(rns_index(P, level, i)));
    });
}

void poly_mul(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs) {
    for_each_limb(limbs, a.n, [&](std::size_t i) {
        eltwise_mul_mod(r.limb(i), a.limb(i), b.limb(i), a.n, P.modulus(rns_index(P, level, i)));
    });
}

void poly_mul_acc(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs) {
    for_each_limb(limbs, a.n, [&](std::size_t i) {
        eltwise_mul_acc_mod(r.limb(i), a.limb(i), b.limb(i), a.n, P.modulus(rns_index(P, level, i)));
    });
}

void poly_mul_scalar(const Params& P, std::size_t level, Poly& r, const Poly& a, const std::vector<u64>& c,
                     std::size_t limbs) {
    for_each_limb(limbs, a.n, [&](std::size_t i) {
        eltwise_mul_scalar_mod(r.limb(i), a.limb(i), c[i], a.n, P.modulus(rns_index(P, level, i)));
    });
}

namespace {

// brv[k] = bit reversal of k over log2(n) bits, built once per ring size (n <= 2^17).
const std::vector<std::uint32_t>& bit_reversal_table(int logn) {
    static std::array<std::once_flag, 18> once;
    static std::array<std::vector<std::uint32_t>, 18> table;
    if (logn < 0 || logn >= 18) throw std::invalid_argument("automorphism_permutation: ring degree above 2^17");
    std::call_once(once[static_cast<std::size_t>(logn)], [logn] {
        std::vector<std::uint32_t>& t = table[static_cast<std::size_t>(logn)];
        const std::size_t n = std::size_t{1} << logn;
        t.assign(n, 0);
        for (std::size_t k = 1; k < n; ++k)  // brv(k) from brv(k >> 1): one shift, one bit
            t[k] = static_cast<std::uint32_t>((t[k >> 1] >> 1) | ((k & 1) << (logn > 0 ? logn - 1 : 0)));
    });
    return table[static_cast<std::size_t>(logn)];
}

}  // namespace

std::vector<std::uint32_t> automorphism_permutation(std::size_t n, std::uint64_t g) {
    // Output k is the evaluation at ψ^(e_k) with e_k = 2·brv(k)+1; σ_g(a)(ψ^e) = a(ψ^(e·g)).
    int logn = 0;
    while ((std::size_t{1} << logn) < n) ++logn;
    if ((g & 1) == 0)
        throw std::invalid_argument("automorphism_permutation: Galois element " + std::to_string(g) +
                                    " is even (elements are odd residues mod 2N)");
    const std::vector<std::uint32_t>& brv = bit_reversal_table(logn);
    const std::uint64_t mask = 2 * static_cast<std::uint64_t>(n) - 1, gm = g & mask;  // mod 2n, a power of two
    std::vector<std::uint32_t> perm(n);
    for (std::size_t k = 0; k < n; ++k) {
        const std::uint64_t e = 2 * std::uint64_t{brv[k]} + 1;
        const std::uint64_t eg = (e * gm) & mask;  // odd
        perm[k] = brv[static_cast<std::size_t>((eg - 1) / 2)];
    }
    return perm;
}

void apply_automorphism_ntt(const Poly& a, Poly& r, const std::vector<std::uint32_t>& perm, std::size_t limbs) {
    for_each_limb(limbs, a.n, [&](std::size_t i) {
        const u64* src = a.limb(i);
        u64* dst = r.limb(i);
        for (std::size_t k = 0; k < a.n; ++k) dst[k] = src[perm[k]];
    });
}

void apply_automorphism_coeff(const Params& P, std::size_t level, const Poly& a, Poly& r, std::uint64_t g,
                              std::size_t limbs) {
    const std::size_t n = a.n;
    for (std::size_t l = 0; l < limbs; ++l) {
        const u64 q = P.modulus(rns_index(P, level, l)).value;
        const u64* src = a.limb(l);
        u64* dst = r.limb(l);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t j = (static_cast<std::uint64_t>(i) * g) % (2 * n);  // X^i -> X^(i·g), X^N = -1
            if (j < n)
                dst[j] = src[i];
            else
                dst[j - n] = neg_mod(src[i], q);
        }
    }
}

}  // namespace bt::ckks
