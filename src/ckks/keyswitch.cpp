// Hybrid key switching: per-level tables, ModUp, inner product, ModDown.
#include "bt/ckks/keyswitch.hpp"

#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"
#include "bt/threadpool.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace bt::ckks {

// ================================================================ tables

const KeySwitchLevel& Params::keyswitch_level(std::size_t level) const {
    if (level > max_level()) throw std::invalid_argument("keyswitch_level: level above the top");
    std::lock_guard<std::mutex> lk(ks_mu_);
    if (ks_.empty()) ks_.resize(q_count());
    if (ks_[level]) return *ks_[level];
    auto t = std::make_shared<KeySwitchLevel>();
    t->level = level;
    const std::vector<u64> pv = p_;
    for (std::size_t j = 0; j < digits_at(level); ++j) {
        const std::size_t b = digit_start(j), e = std::min(b + digit_limbs(j), level + 1);
        t->digit_begin.push_back(b);
        t->digit_end.push_back(e);
        std::vector<u64> from(q_.begin() + static_cast<long>(b), q_.begin() + static_cast<long>(e)), to;
        for (std::size_t i = 0; i <= level; ++i)
            if (i < b || i >= e) to.push_back(q_[i]);
        to.insert(to.end(), pv.begin(), pv.end());
        t->modup.push_back(std::make_unique<BaseConverter>(RNSBasis(from), RNSBasis(to)));
    }
    t->p_to_q = std::make_unique<BaseConverter>(basis_p_, basis_q_[level]);
    for (std::size_t i = 0; i <= level; ++i) {
        const u64 inv = inv_mod(basis_p_.product().mod_word(q_[i]), q_[i]);
        t->p_inv.push_back(inv);
        t->p_inv_shoup.push_back(shoup_precompute(inv, q_[i]));
    }
    ks_[level] = t;
    return *t;
}

// ================================================================ ModUp

Decomposition decompose(const Params& P, const Poly& d, std::size_t level) {
    const KeySwitchLevel& T = P.keyswitch_level(level);
    const std::size_t N = P.N(), k = P.p_count(), total = level + 1 + k;
    if (!d.ntt || d.limbs < level + 1) throw std::logic_error("decompose: expected NTT form at the level");
    Poly coeff(N, level + 1, false, Poly::uninit);
    for_each_limb(level + 1, N, [&](std::size_t i) {  // copy and INTT, limb by limb in parallel
        std::copy(d.limb(i), d.limb(i) + N, coeff.limb(i));
        ntt_inverse(coeff.limb(i), P.ntt(i));
    });
    Decomposition dec;
    dec.level = level;
    for (std::size_t j = 0; j < T.digit_begin.size(); ++j) {
        const std::size_t b = T.digit_begin[j], e = T.digit_end[j];
        Poly out(N, total, true, Poly::uninit);  // every limb written below
        // The complement's limbs (the converter's target order) are converted straight
        // into their places in `out`, then transformed there.
        std::vector<std::size_t> dest;
        for (std::size_t i = 0; i <= level; ++i)
            if (i < b || i >= e) dest.push_back(i);
        for (std::size_t i = 0; i < k; ++i) dest.push_back(level + 1 + i);
        std::vector<u64*> targets(dest.size());
        for (std::size_t c = 0; c < dest.size(); ++c) targets[c] = out.limb(dest[c]);
        T.modup[j]->convert(coeff.limb(b), targets.data(), N);
        for_each_limb(dest.size(), N,
                      [&](std::size_t c) { ntt_forward(out.limb(dest[c]), P.ntt(rns_index(P, level, dest[c]))); });
        for (std::size_t i = b; i < e; ++i) std::copy(d.limb(i), d.limb(i) + N, out.limb(i));  // already NTT
        dec.digits.push_back(std::move(out));
    }
    return dec;
}

// ================================================================ inner product

namespace {

// o0 (+)= d·b and o1 (+)= d·a (assigned when `first`), whole limbs. Tried: both products in
// chunks of 1,024 words, so that the second would read d's chunk from L1 (key switching
// and hoisted rotations at N = 2^16 were unchanged within the host's noise; likely
// because d is fresh from its NTT and still in L2, while each call recomputes its
// constants, two 128-bit divisions among them).
void mac_pair(u64* o0, u64* o1, const u64* d, const u64* b, const u64* a, std::size_t n, const Modulus& m,
              bool first) {
    if (first) {
        eltwise_mul_mod(o0, d, b, n, m);
        eltwise_mul_mod(o1, d, a, n, m);
    } else {
        eltwise_mul_acc_mod(o0, d, b, n, m);
        eltwise_mul_acc_mod(o1, d, a, n, m);
    }
}

}  // namespace

void check_switching_key(const SwitchingKey& key, std::size_t level, std::size_t digits) {
    if (level > key.max_level)
        throw std::invalid_argument("key switching at level " + std::to_string(level) +
                                    ": the key was generated for levels up to " + std::to_string(key.max_level) +
                                    "; generate it with max_level >= " + std::to_string(level));
    if (key.digits() < digits) throw std::logic_error("key switching: key has too few digits");
}

void inner_product(const Params& P, const Decomposition& dec, const SwitchingKey& key, Poly& acc0, Poly& acc1,
                   const std::vector<std::uint32_t>* perm) {
    const std::size_t N = P.N(), level = dec.level, total = level + 1 + P.p_count();
    check_switching_key(key, level, dec.digits.size());
    acc0 = Poly(N, total, true, Poly::uninit);  // digit 0 writes, the others accumulate
    acc1 = Poly(N, total, true, Poly::uninit);
    for_each_limb(total, N, [&](std::size_t i) {
        const std::size_t ri = rns_index(P, level, i);
        const Modulus& m = P.modulus(ri);
        u64* o0 = acc0.limb(i);
        u64* o1 = acc1.limb(i);
        std::vector<u64> tmp;
        if (perm) tmp.resize(N);
        thread_local std::vector<u64, DefaultInitAllocator<u64>> a_buf;  // a seeded key's a_j limb
        if (a_buf.size() < N) a_buf.resize(N);
        // Products of values below q < 2^61 fit 16 to a u128 sum; digits are few, but
        // reduce each term to keep the code obviously correct.
        for (std::size_t j = 0; j < dec.digits.size(); ++j) {
            const u64* dj = dec.digits[j].limb(i);
            if (perm) {
                for (std::size_t t = 0; t < N; ++t) tmp[t] = dj[(*perm)[t]];
                dj = tmp.data();
            }
            const u64* bj = key.b_limb(P, j, ri);
            const u64* aj = key.a_limb(P, j, ri, a_buf.data());
            mac_pair(o0, o1, dj, bj, aj, N, m, j == 0);
        }
    });
}

// ================================================================ fused ModUp and inner product

void switch_key_fused(const Params& P, const Poly& d, std::size_t level, const SwitchingKey& key, Poly& acc0,
                      Poly& acc1, const std::vector<std::uint32_t>* perm) {
    const KeySwitchLevel& T = P.keyswitch_level(level);
    const std::size_t N = P.N(), k = P.p_count(), total = level + 1 + k, digits = T.digit_begin.size();
    if (!d.ntt || d.limbs < level + 1) throw std::logic_error("switch_key_fused: expected NTT form at the level");
    check_switching_key(key, level, digits);
    // Coefficients of d, each limb already multiplied by its digit's (Q_j/q_i)^{-1}: the
    // first half of every digit's base conversion, done once.
    Poly y(N, level + 1, false, Poly::uninit);
    for_each_limb(level + 1, N, [&](std::size_t i) {
        std::copy(d.limb(i), d.limb(i) + N, y.limb(i));
        ntt_inverse(y.limb(i), P.ntt(i));
        std::size_t j = 0;
        while (i >= T.digit_end[j]) ++j;
        T.modup[j]->scale_source(i - T.digit_begin[j], y.limb(i), y.limb(i), N);
    });
    acc0 = Poly(N, total, true, Poly::uninit);
    acc1 = Poly(N, total, true, Poly::uninit);
    for_each_limb(total, N, [&](std::size_t i) {
        const std::size_t ri = rns_index(P, level, i);
        const Modulus& m = P.modulus(ri);
        // Two limbs of scratch per worker, reused across calls (they stay in cache).
        thread_local std::vector<u64, DefaultInitAllocator<u64>> scratch;
        if (scratch.size() < 3 * N) scratch.resize(3 * N);
        u64* conv = scratch.data();
        u64* perm_buf = scratch.data() + N;
        u64* a_buf = scratch.data() + 2 * N;  // a seeded key's a_j limb
        u64* o0 = acc0.limb(i);
        u64* o1 = acc1.limb(i);
        for (std::size_t j = 0; j < digits; ++j) {
            const std::size_t b = T.digit_begin[j], e = T.digit_end[j];
            const u64* dj;
            if (i >= b && i < e) {
                dj = d.limb(i);  // the digit's own limb: d itself, already NTT
            } else {
                // Position of limb i in the converter's target order (complement, then P).
                const std::size_t c = i <= level ? (i < b ? i : i - (e - b)) : (level + 1 - (e - b)) + (i - level - 1);
                T.modup[j]->convert_target(y.limb(b), N, c, conv, N);
                ntt_forward(conv, P.ntt(ri));
                dj = conv;
            }
            if (perm) {
                for (std::size_t t = 0; t < N; ++t) perm_buf[t] = dj[(*perm)[t]];
                dj = perm_buf;
            }
            const u64* bj = key.b_limb(P, j, ri);
            const u64* aj = key.a_limb(P, j, ri, a_buf);
            mac_pair(o0, o1, dj, bj, aj, N, m, j == 0);
        }
    });
}

// ================================================================ ModDown

void mod_down(const Params& P, Poly& acc, std::size_t level, Poly* add_to) {
    const KeySwitchLevel& T = P.keyswitch_level(level);
    const std::size_t N = P.N(), k = P.p_count();
    const BaseConverter& conv = *T.p_to_q;
    // P limbs to coefficients, scaled for the conversion (its first half, done once).
    Poly y(N, k, false, Poly::uninit);
    for_each_limb(k, N, [&](std::size_t i) {
        std::copy(acc.limb(level + 1 + i), acc.limb(level + 1 + i) + N, y.limb(i));
        ntt_inverse(y.limb(i), P.ntt(P.q_count() + i));
        conv.scale_source(i, y.limb(i), y.limb(i), N);
    });
    // The centred conversion's overflow per coefficient: round(x/P), unbiased.
    std::vector<u64, DefaultInitAllocator<u64>> v(N);
    constexpr std::size_t kChunks = 16;
    const std::size_t per = (N + kChunks - 1) / kChunks;
    parallel_for(kChunks, [&](std::size_t c, unsigned) {
        const std::size_t b = c * per;
        if (b < N) conv.overflow(y.data.data() + b, N, v.data() + b, std::min(per, N - b));
    });
    // Per limb of Q_l: its converted limb is made and transformed in cache, then used.
    for_each_limb(level + 1, N, [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        thread_local std::vector<u64, DefaultInitAllocator<u64>> scratch;
        if (scratch.size() < N) scratch.resize(N);
        u64* c = scratch.data();
        conv.convert_target(y.data.data(), N, i, c, N, v.data());
        ntt_forward(c, P.ntt(i));
        u64* x = acc.limb(i);
        if (add_to) {
            eltwise_sub_mod(c, x, c, N, m);
            eltwise_mul_scalar_mod(c, c, T.p_inv[i], N, m);
            eltwise_add_mod(add_to->limb(i), add_to->limb(i), c, N, m);
        } else {
            eltwise_sub_mod(x, x, c, N, m);
            eltwise_mul_scalar_mod(x, x, T.p_inv[i], N, m);
        }
    });
    if (!add_to) acc.truncate(level + 1);
}

}  // namespace bt::ckks
