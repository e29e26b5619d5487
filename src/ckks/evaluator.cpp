// CKKS homomorphic operations (see bt/ckks/evaluator.hpp).
//
// Constants (add_const, mul_const, add_scaled, weighted_sum) are rounded by round_mul of
// bt/detmath.hpp, exactly and identically on every target (no long double).
#include "bt/ckks/evaluator.hpp"

#include "bt/detmath.hpp"
#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"
#include "bt/threadpool.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bt::ckks {

namespace {
// r = (r + w·a) mod m over n words, through an L1-sized buffer (one pass over a and r).
void mul_scalar_acc(u64* r, const u64* a, u64 w, std::size_t n, const Modulus& m) {
    constexpr std::size_t kChunk = 1024;
    alignas(64) u64 tmp[kChunk];
    for (std::size_t k = 0; k < n; k += kChunk) {
        const std::size_t len = std::min(kChunk, n - k);
        eltwise_mul_scalar_mod(tmp, a + k, w, len, m);
        eltwise_add_mod(r + k, r + k, tmp, len, m);
    }
}

[[noreturn]] void fail(const char* op, const std::string& msg) {
    throw std::invalid_argument(std::string(op) + ": " + msg);
}

constexpr double kScaleTolerance = 9.3e-10;  // 2^-30 relative

}  // namespace

std::string scale_str(double scale) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2^%.2f", std::log2(scale));
    return buf;
}

Evaluator::Evaluator(ParamsPtr params, const RelinKey* rk, const GaloisKeys* gk)
    : params_(std::move(params)), encoder_(params_) {
    set_relin_key(rk);
    set_galois_keys(gk);
}

void Evaluator::set_relin_key(const RelinKey* rk) {
    if (rk) check_fingerprint(*params_, rk->key.fingerprint, "the relinearization key");
    rk_ = rk;
}

void Evaluator::set_galois_keys(const GaloisKeys* gk) {
    if (gk) check_fingerprint(*params_, gk->fingerprint, "the Galois keys");
    gk_ = gk;
}

// ================================================================ checks and alignment

void Evaluator::check(const Ciphertext& a, const char* op) const {
    const Params& P = *params_;
    check_fingerprint(P, a.fingerprint, "a ciphertext operand");
    if (a.size() < 2 || a.level > P.max_level())
        fail(op, "malformed ciphertext: " + std::to_string(a.size()) + " parts at level " + std::to_string(a.level));
    for (const Poly& p : a.parts)
        if (p.limbs != a.level + 1 || p.n != P.N() || !p.ntt)
            fail(op, "malformed ciphertext: a part has " + std::to_string(p.limbs) + " limbs at level " +
                         std::to_string(a.level));
}

void Evaluator::check_same_scale(double sa, double sb, std::size_t level, const char* op) const {
    if (std::fabs(sa / sb - 1) > kScaleTolerance)
        fail(op, "scales differ: " + scale_str(sa) + " vs " + scale_str(sb) + " at level " + std::to_string(level) +
                     "; rescale the product first, or bring both to one scale with adjust_to_inplace");
}

Ciphertext Evaluator::adjusted_to(const Ciphertext& a, std::size_t level, double scale) const {
    check(a, "adjust_to");
    if (level >= a.level)
        fail("adjust_to", "target level " + std::to_string(level) + " is not below the ciphertext's level " +
                              std::to_string(a.level) + "; only a higher ciphertext can be brought down");
    Ciphertext r;
    r.fingerprint = a.fingerprint;
    r.level = level + 1;
    r.scale = a.scale;
    r.slots = a.slots;
    const std::size_t limbs = level + 2;
    for (const Poly& p : a.parts) {
        r.parts.emplace_back(p.n, limbs, p.ntt, Poly::uninit);
        std::copy(p.data.begin(), p.data.begin() + static_cast<std::ptrdiff_t>(limbs * p.n), r.parts.back().data.begin());
    }
    adjust_to_inplace(r, level, scale);
    return r;
}

void Evaluator::adjust_to_inplace(Ciphertext& a, std::size_t level, double scale) const {
    check(a, "adjust_to");
    if (level >= a.level)
        fail("adjust_to", "target level " + std::to_string(level) + " is not below the ciphertext's level " +
                              std::to_string(a.level) + "; only a higher ciphertext can be brought down");
    drop_to_level_inplace(a, level + 1);
    const double q = static_cast<double>(params_->q(level + 1));
    const double k = std::nearbyint(scale * q / a.scale);
    if (!(k >= 1073741824.0) || !(k < 4.0e18))  // 2^30 <= k < 2^62 keeps the relative error below 2^-31
        fail("adjust_to", "cannot bring scale " + scale_str(a.scale) + " to " + scale_str(scale) + " at level " +
                              std::to_string(level) + " with one integer multiplication (factor " + scale_str(k) +
                              ")");
    mul_int_inplace(a, static_cast<long long>(k));
    a.scale *= k;
    rescale_inplace(a);
}

void Evaluator::align(Ciphertext& a, Ciphertext& b) const {
    if (a.level > b.level)
        adjust_to_inplace(a, b.level, b.scale);
    else if (b.level > a.level)
        adjust_to_inplace(b, a.level, a.scale);
}

// ================================================================ addition

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b_in) const {
    check(a, "add");
    check(b_in, "add");
    if (a.slots != b_in.slots)
        fail("add", "slot counts differ: " + std::to_string(a.slots) + " vs " + std::to_string(b_in.slots));
    Ciphertext b_copy;
    const Ciphertext* b = &b_in;
    if (a.level != b_in.level) {
        b_copy = b_in;
        align(a, b_copy);
        b = &b_copy;
    }
    check_same_scale(a.scale, b->scale, a.level, "add");
    const Params& P = *params_;
    while (a.parts.size() < b->parts.size()) a.parts.emplace_back(P.N(), a.level + 1, true);
    for (std::size_t i = 0; i < b->parts.size(); ++i) poly_add(P, a.level, a.parts[i], a.parts[i], b->parts[i], a.level + 1);
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
    Ciphertext nb = b;
    negate_inplace(nb);
    add_inplace(a, nb);
}

Ciphertext Evaluator::add(const Ciphertext& a, const Ciphertext& b) const {
    Ciphertext r = a;
    add_inplace(r, b);
    return r;
}

Ciphertext Evaluator::sub(const Ciphertext& a, const Ciphertext& b) const {
    Ciphertext r = a;
    sub_inplace(r, b);
    return r;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
    check(a, "negate");
    for (Poly& p : a.parts) poly_neg(*params_, a.level, p, p, a.level + 1);
}

namespace {
void check_plain_level(const Ciphertext& a, const Plaintext& p, const char* op) {
    if (p.level != a.level)
        fail(op, "plaintext at level " + std::to_string(p.level) + ", ciphertext at level " + std::to_string(a.level) +
                     "; encode the plaintext at the ciphertext's level");
}
}  // namespace

void Evaluator::add_plain_inplace(Ciphertext& a, const Plaintext& p) const {
    check(a, "add_plain");
    check_plain_level(a, p, "add_plain");
    check_same_scale(a.scale, p.scale, a.level, "add_plain");
    poly_add(*params_, a.level, a.parts[0], a.parts[0], p.poly, a.level + 1);
}

void Evaluator::sub_plain_inplace(Ciphertext& a, const Plaintext& p) const {
    check(a, "sub_plain");
    check_plain_level(a, p, "sub_plain");
    check_same_scale(a.scale, p.scale, a.level, "sub_plain");
    poly_sub(*params_, a.level, a.parts[0], a.parts[0], p.poly, a.level + 1);
}

void Evaluator::add_const_inplace(Ciphertext& a, double c) const {
    check(a, "add_const");
    const Params& P = *params_;
    const ExactInt v = round_mul(c, a.scale);
    // A constant polynomial is the same value at every NTT evaluation point.
    for_each_limb(a.level + 1, P.N(), [&](std::size_t i) {
        const u64 r = residue(v, P.q(i));
        u64* x = a.parts[0].limb(i);
        for (std::size_t k = 0; k < P.N(); ++k) x[k] = add_mod(x[k], r, P.q(i));
    });
}

// ================================================================ multiplication

Ciphertext Evaluator::multiply(const Ciphertext& a_in, const Ciphertext& b_in) const {
    check(a_in, "multiply");
    check(b_in, "multiply");
    if (a_in.size() != 2 || b_in.size() != 2)
        fail("multiply", "operands must be relinearized (2 parts), found " + std::to_string(a_in.size()) + " and " +
                             std::to_string(b_in.size()));
    if (a_in.slots != b_in.slots)
        fail("multiply", "slot counts differ: " + std::to_string(a_in.slots) + " vs " + std::to_string(b_in.slots));
    // Copies only when a level has to be spent to align the operands.
    Ciphertext a_copy, b_copy;
    const Ciphertext* pa = &a_in;
    const Ciphertext* pb = &b_in;
    if (a_in.level != b_in.level) {
        a_copy = a_in;
        b_copy = b_in;
        align(a_copy, b_copy);
        pa = &a_copy;
        pb = &b_copy;
    }
    return tensor(*pa, *pb, pa->level);
}

Ciphertext Evaluator::multiply_at(const Ciphertext& a, const Ciphertext& b, std::size_t level) const {
    check(a, "multiply_at");
    check(b, "multiply_at");
    if (a.size() != 2 || b.size() != 2)
        fail("multiply_at", "operands must be relinearized (2 parts), found " + std::to_string(a.size()) + " and " +
                                std::to_string(b.size()));
    if (a.slots != b.slots)
        fail("multiply_at", "slot counts differ: " + std::to_string(a.slots) + " vs " + std::to_string(b.slots));
    if (a.level < level || b.level < level)
        fail("multiply_at", "operands at levels " + std::to_string(a.level) + " and " + std::to_string(b.level) +
                                " cannot be dropped to level " + std::to_string(level) + " (below both)");
    return tensor(a, b, level);
}

// (a0 + a1·s)(b0 + b1·s) over the first l+1 limbs of each operand (higher limbs are
// dropped for free, nothing is copied).
Ciphertext Evaluator::tensor(const Ciphertext& a, const Ciphertext& b, std::size_t l) const {
    const Params& P = *params_;
    const std::size_t N = P.N();
    Ciphertext r;
    r.fingerprint = P.fingerprint();
    r.level = l;
    r.scale = a.scale * b.scale;
    r.slots = a.slots;
    for (int i = 0; i < 3; ++i) r.parts.emplace_back(N, l + 1, true, Poly::uninit);  // written in full below
    for_each_limb(l + 1, N, [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        const u64 *a0 = a.parts[0].limb(i), *a1 = a.parts[1].limb(i);
        const u64 *b0 = b.parts[0].limb(i), *b1 = b.parts[1].limb(i);
        eltwise_mul_mod(r.parts[0].limb(i), a0, b0, N, m);
        eltwise_mul_mod(r.parts[1].limb(i), a0, b1, N, m);
        eltwise_mul_acc_mod(r.parts[1].limb(i), a1, b0, N, m);
        eltwise_mul_mod(r.parts[2].limb(i), a1, b1, N, m);
    });
    return r;
}

Ciphertext Evaluator::tensor_sum(const std::vector<std::pair<const Ciphertext*, const Ciphertext*>>& terms) const {
    if (terms.empty()) fail("tensor_sum", "no products to sum");
    const Ciphertext& first = *terms[0].first;
    const std::size_t l = first.level;
    const double scale = first.scale * terms[0].second->scale;
    for (const auto& [a, b] : terms) {
        for (const Ciphertext* x : {a, b}) {
            check(*x, "tensor_sum");
            if (x->size() != 2)
                fail("tensor_sum", "operands must be relinearized (2 parts), found " + std::to_string(x->size()));
            if (x->level != l)
                fail("tensor_sum", "operands at levels " + std::to_string(l) + " and " + std::to_string(x->level) +
                                       "; bring them to one level first");
            if (x->slots != first.slots)
                fail("tensor_sum", "slot counts differ: " + std::to_string(first.slots) + " vs " + std::to_string(x->slots));
        }
        check_same_scale(a->scale * b->scale, scale, l, "tensor_sum");
    }
    const Params& P = *params_;
    const std::size_t N = P.N();
    Ciphertext r;
    r.fingerprint = P.fingerprint();
    r.level = l;
    r.scale = scale;
    r.slots = first.slots;
    for (int i = 0; i < 3; ++i) r.parts.emplace_back(N, l + 1, true, Poly::uninit);  // written in full below
    // Blocks of C coefficients: the three accumulators (3·C words) stay in L1 while every
    // pair's four operands stream through once.
    const std::size_t C = std::min<std::size_t>(N, 1024);
    for_each_limb(l + 1, N, [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        for (std::size_t o = 0; o < N; o += C) {
            u64* r0 = r.parts[0].limb(i) + o;
            u64* r1 = r.parts[1].limb(i) + o;
            u64* r2 = r.parts[2].limb(i) + o;
            for (std::size_t t = 0; t < terms.size(); ++t) {
                const Ciphertext &a = *terms[t].first, &b = *terms[t].second;
                const u64 *a0 = a.parts[0].limb(i) + o, *a1 = a.parts[1].limb(i) + o;
                const u64 *b0 = b.parts[0].limb(i) + o, *b1 = b.parts[1].limb(i) + o;
                if (t == 0) {
                    eltwise_mul_mod(r0, a0, b0, C, m);
                    eltwise_mul_mod(r1, a0, b1, C, m);
                    eltwise_mul_mod(r2, a1, b1, C, m);
                } else {
                    eltwise_mul_acc_mod(r0, a0, b0, C, m);
                    eltwise_mul_acc_mod(r1, a0, b1, C, m);
                    eltwise_mul_acc_mod(r2, a1, b1, C, m);
                }
                eltwise_mul_acc_mod(r1, a1, b0, C, m);
            }
        }
    });
    return r;
}

Ciphertext Evaluator::multiply_relin_rescale(const Ciphertext& a, const Ciphertext& b) const {
    Ciphertext r = multiply(a, b);
    relinearize_inplace(r);
    rescale_inplace(r);
    return r;
}

void Evaluator::mul_plain_inplace(Ciphertext& a, const Plaintext& p) const {
    check(a, "mul_plain");
    check_plain_level(a, p, "mul_plain");
    for (Poly& c : a.parts) poly_mul(*params_, a.level, c, c, p.poly, a.level + 1);
    a.scale *= p.scale;
}

void Evaluator::mul_const_inplace(Ciphertext& a, double c) const {
    mul_const_inplace(a, c, params_->nominal_scale(a.level));
}

void Evaluator::add_scaled_inplace(Ciphertext& a, const Ciphertext& b, double c) const {
    check(a, "add_scaled");
    check(b, "add_scaled");
    if (b.level < a.level)
        fail("add_scaled", "the added operand is at level " + std::to_string(b.level) + ", below the target's " +
                               std::to_string(a.level) + "; bring the target down to it first");
    if (b.size() > a.size())
        fail("add_scaled", "the added operand has " + std::to_string(b.size()) + " parts, the target " +
                               std::to_string(a.size()));
    const double ratio = a.scale / b.scale;
    if (!(ratio >= 1) || !std::isfinite(ratio))
        fail("add_scaled", "target scale " + scale_str(a.scale) + " is below the operand's " + scale_str(b.scale));
    const Params& P = *params_;
    // The constant round(c·ratio) as in mul_const_inplace(b, c, ratio): a += that · b,
    // limb by limb with b's higher limbs dropped (one pass over each operand, no copy).
    const ExactInt v = round_mul(c, ratio);
    for_each_limb(a.level + 1, P.N(), [&](std::size_t i) {
        const u64 w = residue(v, P.q(i));
        for (std::size_t j = 0; j < b.size(); ++j) mul_scalar_acc(a.parts[j].limb(i), b.parts[j].limb(i), w, P.N(), P.modulus(i));
    });
}

Ciphertext Evaluator::weighted_sum(const std::vector<std::pair<double, const Ciphertext*>>& terms, std::size_t level,
                                   double scale) const {
    if (terms.empty()) fail("weighted_sum", "no terms");
    const Params& P = *params_;
    const Ciphertext& first = *terms[0].second;
    std::vector<std::vector<u64>> w(terms.size(), std::vector<u64>(level + 1));
    for (std::size_t t = 0; t < terms.size(); ++t) {
        const Ciphertext& x = *terms[t].second;
        check(x, "weighted_sum");
        if (x.level < level)
            fail("weighted_sum", "term " + std::to_string(t) + " is at level " + std::to_string(x.level) +
                                     ", below the sum's level " + std::to_string(level));
        if (x.size() != first.size() || x.slots != first.slots)
            fail("weighted_sum", "term " + std::to_string(t) + " has " + std::to_string(x.size()) + " parts and " +
                                     std::to_string(x.slots) + " slots, the first " + std::to_string(first.size()) +
                                     " and " + std::to_string(first.slots));
        const double s = scale / x.scale;  // the constant's scale, as mul_const_inplace(x, c, s) takes it
        if (!(s >= 1) || !std::isfinite(s))
            fail("weighted_sum", "term " + std::to_string(t) + " has scale " + scale_str(x.scale) +
                                     ", above the sum's " + scale_str(scale));
        const ExactInt v = round_mul(terms[t].first, s);
        for (std::size_t i = 0; i <= level; ++i) w[t][i] = residue(v, P.q(i));
    }
    Ciphertext r;
    r.fingerprint = P.fingerprint();
    r.level = level;
    r.scale = scale;
    r.slots = first.slots;
    for (std::size_t j = 0; j < first.size(); ++j) r.parts.emplace_back(P.N(), level + 1, true, Poly::uninit);
    // Limb-major: the two output limbs stay in cache while every term streams through once.
    for_each_limb(level + 1, P.N(), [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        for (std::size_t j = 0; j < first.size(); ++j) {
            u64* o = r.parts[j].limb(i);
            eltwise_mul_scalar_mod(o, terms[0].second->parts[j].limb(i), w[0][i], P.N(), m);
            for (std::size_t t = 1; t < terms.size(); ++t)
                mul_scalar_acc(o, terms[t].second->parts[j].limb(i), w[t][i], P.N(), m);
        }
    });
    return r;
}

void Evaluator::mul_const_inplace(Ciphertext& a, double c, double const_scale) const {
    check(a, "mul_const");
    const Params& P = *params_;
    if (!(const_scale >= 1) || !std::isfinite(const_scale))
        fail("mul_const", "constant scale " + std::to_string(const_scale) + " must be a finite value >= 1");
    const double s = const_scale;
    const ExactInt v = round_mul(c, s);
    std::vector<u64> res(a.level + 1);
    for (std::size_t i = 0; i <= a.level; ++i) res[i] = residue(v, P.q(i));
    for (Poly& p : a.parts) poly_mul_scalar(P, a.level, p, p, res, a.level + 1);
    a.scale *= s;
}

void Evaluator::mul_int_inplace(Ciphertext& a, long long k) const {
    check(a, "mul_int");
    const Params& P = *params_;
    std::vector<u64> res(a.level + 1);
    for (std::size_t i = 0; i <= a.level; ++i) res[i] = from_signed(static_cast<i64>(k) % static_cast<i64>(P.q(i)), P.q(i));
    for (Poly& p : a.parts) poly_mul_scalar(P, a.level, p, p, res, a.level + 1);
}

void Evaluator::switch_key(const Poly& d, std::size_t level, const SwitchingKey& key, Poly& u0, Poly& u1) const {
    const Params& P = *params_;
    switch_key_fused(P, d, level, key, u0, u1);
    mod_down(P, u0, level);
    mod_down(P, u1, level);
}

void Evaluator::relinearize_inplace(Ciphertext& a) const {
    check(a, "relinearize");
    if (a.size() == 2) return;
    if (a.size() != 3) fail("relinearize", "expected 3 parts, found " + std::to_string(a.size()));
    if (!rk_) fail("relinearize", "no relinearization key: give the Evaluator a RelinKey");
    const Params& P = *params_;
    Poly u0, u1;
    switch_key_fused(P, a.parts[2], a.level, rk_->key, u0, u1);
    mod_down(P, u0, a.level, &a.parts[0]);  // parts[0] += ModDown(u0)
    mod_down(P, u1, a.level, &a.parts[1]);
    a.parts.pop_back();
}

void Evaluator::rescale_inplace(Ciphertext& a) const {
    check(a, "rescale");
    const Params& P = *params_;
    const std::size_t l = a.level, N = P.N();
    if (l == 0) fail("rescale", "the ciphertext is at level 0: no level left to rescale into; bootstrap it first");
    const u64 ql = P.q(l), half = ql >> 1;
    // The parts are independent: one task each (the limb loops inside run inline then),
    // so the INTT of the dropped limb is not a serial section.
    parallel_for(a.parts.size(), [&](std::size_t part, unsigned) {
        Poly& p = a.parts[part];
        // Per coefficient: y = (x - r) / q_l with r = ((x_l + h) mod q_l) - h the
        // representative of x mod q_l in [-h, q_l - h), h = floor(q_l/2): exact
        // rounding division (the reference is bt::divide_round_by_last).
        std::vector<u64> r(p.limb(l), p.limb(l) + N);
        ntt_inverse(r.data(), P.ntt(l));
        for (std::size_t k = 0; k < N; ++k) r[k] = add_mod(r[k], half, ql);  // r + h in [0, q_l)
        for_each_limb(l, N, [&](std::size_t i) {
            const Modulus& m = P.modulus(i);
            const u64 q = m.value;
            const u64 hi = barrett_reduce_64(half, m);
            thread_local std::vector<u64, DefaultInitAllocator<u64>> scratch;
            if (scratch.size() < N) scratch.resize(N);
            u64* t = scratch.data();
            for (std::size_t k = 0; k < N; ++k) t[k] = sub_mod(barrett_reduce_64(r[k], m), hi, q);  // r mod q_i
            ntt_forward(t, P.ntt(i));
            const u64 inv = inv_mod(barrett_reduce_64(ql, m), q);
            u64* x = p.limb(i);
            eltwise_sub_mod(x, x, t, N, m);  // (x - r)·q_l^{-1}
            eltwise_mul_scalar_mod(x, x, inv, N, m);
        });
        p.truncate(l);
    });
    a.level = l - 1;
    a.scale /= static_cast<double>(ql);
}

Ciphertext Evaluator::rescale(const Ciphertext& a) const {
    Ciphertext r = a;
    rescale_inplace(r);
    return r;
}

void Evaluator::drop_to_level_inplace(Ciphertext& a, std::size_t level) const {
    check(a, "drop_to_level");
    if (level > a.level)
        fail("drop_to_level", "target level " + std::to_string(level) + " is above the ciphertext's level " +
                                  std::to_string(a.level) + "; levels can only be dropped (or restored by bootstrapping)");
    for (Poly& p : a.parts) p.truncate(level + 1);
    a.level = level;
}

// ================================================================ rotations

std::string Evaluator::describe_steps() const {
    if (!gk_ || gk_->keys.empty()) return "the key set is empty";
    const std::uint64_t m = 2 * params_->N();
    std::string s = "the key set has";
    for (std::uint64_t g : gk_->elements()) {
        if (g == m - 1) {
            s += " conj";
            continue;
        }
        std::uint64_t x = 1;
        std::size_t r = 0;
        while (x != g && r < params_->N() / 2) {
            x = x * 5 % m;
            ++r;
        }
        s += " " + (x == g ? std::to_string(r) : "g=" + std::to_string(g));
    }
    return s + " (left-rotation steps at full slots)";
}

const SwitchingKey& Evaluator::galois_key(std::uint64_t g, long steps, const char* op) const {
    if (!gk_ || !gk_->has(g)) {
        const std::string what = g == 2 * params_->N() - 1 ? std::string("conjugation")
                                                            : "rotation step " + std::to_string(steps);
        fail(op, "no key for " + what + " (Galois element " + std::to_string(g) + "): " + describe_steps() +
                     "; generate it with KeyGenerator::galois_keys");
    }
    return gk_->keys.at(g);
}

std::vector<Ciphertext> Evaluator::rotate_hoisted(const Ciphertext& a, const std::vector<long>& steps) const {
    check(a, "rotate");
    if (a.size() != 2) fail("rotate", "relinearize before rotating (found " + std::to_string(a.size()) + " parts)");
    const Params& P = *params_;
    const std::size_t l = a.level;
    std::vector<Ciphertext> out;
    std::unique_ptr<Decomposition> dec;
    for (long s : steps) {
        const std::uint64_t g = s == 0 ? 1 : encoder_.galois_element(s, a.slots);
        if (g == 1) {
            out.push_back(a);
            continue;
        }
        const SwitchingKey& key = galois_key(g, s, "rotate");
        // One rotation switches without storing its decomposition; several share one.
        if (!dec && steps.size() > 1) dec = std::make_unique<Decomposition>(decompose(P, a.parts[1], l));
        out.push_back(galois_from(a, dec.get(), g, key));
    }
    return out;
}

Ciphertext Evaluator::rotate(const Ciphertext& a, long steps) const { return rotate_hoisted(a, {steps})[0]; }

Ciphertext Evaluator::galois_from(const Ciphertext& a, const Decomposition* dec, std::uint64_t g,
                                  const SwitchingKey& key) const {
    const Params& P = *params_;
    const std::size_t l = a.level, N = P.N();
    const auto perm = automorphism_permutation(N, g);
    Poly u0, u1;
    if (dec)
        inner_product(P, *dec, key, u0, u1, &perm);  // the digits read through σ_g
    else
        switch_key_fused(P, a.parts[1], l, key, u0, u1, &perm);
    Ciphertext r;
    r.fingerprint = a.fingerprint;
    r.level = l;
    r.scale = a.scale;
    r.slots = a.slots;
    r.parts.resize(2);
    r.parts[0] = Poly(N, l + 1, true, Poly::uninit);
    apply_automorphism_ntt(a.parts[0], r.parts[0], perm, l + 1);
    mod_down(P, u0, l, &r.parts[0]);  // σ(c0) + ModDown(u0)
    mod_down(P, u1, l);
    r.parts[1] = std::move(u1);
    return r;
}

Ciphertext Evaluator::apply_galois(const Ciphertext& a, std::uint64_t g) const {
    check(a, "apply_galois");
    if (a.size() != 2) fail("apply_galois", "relinearize first");
    const SwitchingKey& key = galois_key(g, 0, "apply_galois");
    return galois_from(a, nullptr, g, key);
}

Ciphertext Evaluator::conjugate(const Ciphertext& a) const { return apply_galois(a, 2 * params_->N() - 1); }

Ciphertext Evaluator::rotate_and_sum(const Ciphertext& a, std::size_t window, long stride) const {
    if (window == 0 || (window & (window - 1)) != 0)
        fail("rotate_and_sum", "window " + std::to_string(window) + " is not a power of two");
    Ciphertext r = a;
    for (std::size_t k = 1; k < window; k <<= 1) add_inplace(r, rotate(r, static_cast<long>(k) * stride));
    return r;
}

}  // namespace bt::ckks
