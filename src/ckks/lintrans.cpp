// Encrypted linear transforms: diagonal method, baby-step giant-step, hoisted and
// double-hoisted rotations (see bt/ckks/lintrans.hpp). The homomorphic DFT built on
// them is in dft.cpp.
#include "bt/ckks/lintrans.hpp"

#include "bt/ckks/keyswitch.hpp"
#include "bt/detmath.hpp"
#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>

namespace bt::ckks {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("linear transform: " + what); }

bool is_pow2(std::size_t x) { return x != 0 && (x & (x - 1)) == 0; }

}  // namespace

// ================================================================ plaintext matrices

std::vector<cplx> apply_diagonals(const Diagonals& m, const std::vector<cplx>& v, std::size_t n) {
    if (v.size() != n) fail("vector of length " + std::to_string(v.size()) + ", expected " + std::to_string(n));
    std::vector<cplx> out(n, cplx(0, 0));
    for (const auto& [d, diag] : m)
        for (std::size_t r = 0; r < n; ++r) out[r] += diag[r] * v[(r + d) % n];
    return out;
}

Diagonals compose_diagonals(const Diagonals& a, const Diagonals& b, std::size_t n) {
    // (A·B)[r][r+d+e] += A[r][r+d] · B[r+d][r+d+e]
    Diagonals out;
    for (const auto& [d, da] : a) {
        for (const auto& [e, db] : b) {
            std::vector<cplx>& o = out[(d + e) % n];
            if (o.empty()) o.assign(n, cplx(0, 0));
            for (std::size_t r = 0; r < n; ++r) o[r] += da[r] * db[(r + d) % n];
        }
    }
    return out;
}

Diagonals dense_to_diagonals(const std::vector<cplx>& dense, std::size_t n) {
    if (dense.size() != n * n) fail("dense matrix of " + std::to_string(dense.size()) + " entries, expected n² ");
    Diagonals out;
    for (std::size_t d = 0; d < n; ++d) {
        std::vector<cplx> diag(n);
        bool nonzero = false;
        for (std::size_t r = 0; r < n; ++r) {
            diag[r] = dense[r * n + (r + d) % n];
            nonzero = nonzero || diag[r] != cplx(0, 0);
        }
        if (nonzero) out[d] = std::move(diag);
    }
    return out;
}

std::vector<cplx> diagonals_to_dense(const Diagonals& m, std::size_t n) {
    std::vector<cplx> dense(n * n, cplx(0, 0));
    for (const auto& [d, diag] : m)
        for (std::size_t r = 0; r < n; ++r) dense[r * n + (r + d) % n] += diag[r];
    return dense;
}

// ================================================================ baby-step giant-step

namespace {

BsgsSplit split_with(const std::vector<std::size_t>& diagonals, std::size_t n1) {
    BsgsSplit s;
    s.n1 = n1;
    std::set<std::size_t> baby, giant;
    for (std::size_t d : diagonals) {
        baby.insert(d % n1);
        giant.insert(d - d % n1);
    }
    s.baby.assign(baby.begin(), baby.end());
    s.giant.assign(giant.begin(), giant.end());
    s.rotations = (s.baby.size() - baby.count(0)) + (s.giant.size() - giant.count(0));
    return s;
}

}  // namespace

BsgsSplit bsgs_split(const std::vector<std::size_t>& diagonals, std::size_t n, std::size_t n1) {
    if (diagonals.empty()) fail("no diagonals");
    for (std::size_t d : diagonals)
        if (d >= n) fail("diagonal index " + std::to_string(d) + " >= slots " + std::to_string(n));
    if (n1 != 0) {
        if (n1 > n) fail("n1 = " + std::to_string(n1) + " exceeds the slot count " + std::to_string(n));
        return split_with(diagonals, n1);
    }
    BsgsSplit best;
    bool have = false;
    for (std::size_t m = 1; m <= n; m <<= 1) {
        BsgsSplit s = split_with(diagonals, m);
        if (!have || s.rotations < best.rotations ||
            (s.rotations == best.rotations && s.giant.size() < best.giant.size())) {
            best = std::move(s);
            have = true;
        }
    }
    return best;
}

HornerGiants horner_giants(const BsgsSplit& split, std::size_t n) {
    HornerGiants h;
    const std::size_t n1 = split.n1;
    if (n1 == 0 || n % n1 != 0) return h;
    const std::size_t K = n / n1;
    std::vector<std::size_t> ks;
    for (std::size_t g : split.giant) ks.push_back(g / n1);  // sorted, distinct, in [0, K)
    std::size_t nonzero = 0;
    for (std::size_t k : ks) nonzero += k != 0;
    if (ks.size() <= 1) return h;  // nothing to nest
    // The largest cyclic gap between consecutive giant indices; the run starts after it.
    std::size_t best_gap = 0, start = ks[0];
    for (std::size_t i = 0; i < ks.size(); ++i) {
        const std::size_t next = ks[(i + 1) % ks.size()];
        const std::size_t gap = (next + K - ks[i]) % K;
        if (gap > best_gap) {
            best_gap = gap;
            start = next;
        }
    }
    h.start = start;
    h.span = K - best_gap;  // the run covers start … start + span
    h.rotations = h.span + (start != 0 ? 1 : 0);
    if (h.span > 0) h.steps.push_back(n1);
    if (start != 0 && start * n1 != n1) h.steps.push_back(start * n1);
    h.usable = h.rotations <= nonzero + 1 && h.steps.size() < nonzero;
    return h;
}

// ================================================================ encoding over Q·P

namespace {

// The 2n rounded coefficients (positions k·N/2n) of the encoding of z at `scale`, rounded
// exactly by round_mul (bt/detmath.hpp): the same on every target.
std::vector<ExactInt> encode_coeffs(const Encoder& enc, const std::vector<cplx>& z, double scale,
                                    std::size_t slots) {
    const Params& P = *enc.params();
    if (!is_pow2(slots) || slots > P.max_slots()) fail("slot count " + std::to_string(slots) + " is not valid");
    if (z.size() > slots) fail("more values than slots");
    std::vector<cplx> w(slots, cplx(0, 0));
    std::copy(z.begin(), z.end(), w.begin());
    enc.fft_special_inv(w.data(), slots);
    std::vector<ExactInt> c(2 * slots);
    for (std::size_t j = 0; j < 2 * slots; ++j) {
        const double x = j < slots ? w[j].real() : w[j - slots].imag();
        if (!std::isfinite(x) || !std::isfinite(scale))
            fail("a diagonal value or the scale is not finite (" + std::to_string(x) + " at scale " +
                 std::to_string(scale) + "); check the matrix for NaN or infinity");
        c[j] = round_mul(x, scale);
    }
    return c;
}

// The rounded coefficients prepared for reduction: magnitudes and signs once (the
// plaintexts of bootstrapping's transforms are below 2^62), so each limb reduces 64-bit
// words instead of wide integers; the wide ones are kept only if one is too large.
PreparedCoeffs prepare_coeffs(std::vector<ExactInt>&& c) {
    PreparedCoeffs pc;
    pc.mag.resize(c.size());
    pc.neg.resize(c.size());
    for (std::size_t j = 0; j < c.size(); ++j) {
        if (c[j].shift != 0 || c[j].mag >= u128{4000000000000000000ull}) {
            pc.mag = {};
            pc.neg = {};
            pc.big = std::move(c);
            return pc;
        }
        pc.mag[j] = static_cast<u64>(c[j].mag);
        pc.neg[j] = c[j].neg;
    }
    return pc;
}

// Limb i (of q_0 … q_level, p_0 … p_{k-1}) of the NTT-form polynomial with those
// coefficients, written to o (N words).
void prepared_limb(const Params& P, const PreparedCoeffs& pc, std::size_t level, std::size_t i, u64* o) {
    const std::size_t N = P.N(), n = pc.size(), gap = N / n;
    const Modulus& m = P.modulus(rns_index(P, level, i));
    if (pc.big.empty()) {
        // |c_j| < 2^62: reduced into o[0, n) (eltwise_reduce_signed), then spread to the
        // positions j·gap from the top down (each word is read before it is overwritten).
        eltwise_reduce_signed(o, pc.mag.data(), pc.neg.data(), n, m);
        if (gap > 1)
            for (std::size_t j = n; j-- > 0;) {
                o[j * gap] = o[j];
                std::fill(o + j * gap + 1, o + (j + 1) * gap, 0);
            }
    } else {
        if (gap > 1) std::fill(o, o + N, 0);  // every gap-th word is written below
        for (std::size_t j = 0; j < n; ++j) o[j * gap] = residue(pc.big[j], m.value);
    }
    ntt_forward(o, P.ntt(rns_index(P, level, i)));
}

// Those coefficients as an NTT-form polynomial with the first `limbs` limbs of
// q_0 … q_level, p_0 … p_{k-1}.
void coeffs_to_qp(const Params& P, const PreparedCoeffs& pc, std::size_t level, std::size_t limbs, Poly& out) {
    out = Poly(P.N(), limbs, false, Poly::uninit);
    for_each_limb(limbs, P.N(), [&](std::size_t i) { prepared_limb(P, pc, level, i, out.limb(i)); });
    out.ntt = true;
}

}  // namespace

Poly encode_qp(const Encoder& enc, const std::vector<cplx>& z, std::size_t level, double scale, std::size_t slots) {
    const Params& P = *enc.params();
    if (level > P.max_level()) fail("level " + std::to_string(level) + " above the top level");
    Poly out;
    coeffs_to_qp(P, prepare_coeffs(encode_coeffs(enc, z, scale, slots)), level, level + 1 + P.p_count(), out);
    return out;
}

void mul_by_i_inplace(const Params& P, Ciphertext& ct) {
    // X^(N/2) at every root ζ^g (g ≡ 1 mod 4) is i^g = i.
    const std::size_t N = P.N(), l = ct.level;
    Poly mono(N, l + 1, false);
    for (std::size_t i = 0; i <= l; ++i) mono.limb(i)[N / 2] = 1;
    to_ntt(P, mono, l);
    for (Poly& c : ct.parts) poly_mul(P, l, c, c, mono, l + 1);
}

// ================================================================ LinearTransform

LinearTransform::LinearTransform(const Encoder& enc, const Diagonals& diagonals, std::size_t slots,
                                 std::size_t level, double scale, std::size_t n1, bool compact)
    : params_(enc.params()), diags_(diagonals), slots_(slots), level_(level), out_slots_(slots), scale_(scale),
      compact_(compact) {
    const Params& P = *params_;
    if (!is_pow2(slots) || slots > P.max_slots())
        fail("slots = " + std::to_string(slots) + " is not a power of two in [1, N/2 = " +
             std::to_string(P.max_slots()) + "]");
    if (level == 0 || level > P.max_level())
        fail("level " + std::to_string(level) + " must be in [1, " + std::to_string(P.max_level()) +
             "] (the transform consumes one level)");
    if (diags_.empty()) fail("the matrix has no diagonals");
    for (const auto& [d, v] : diags_) {
        if (d >= slots) fail("diagonal index " + std::to_string(d) + " >= slots " + std::to_string(slots));
        if (v.size() != slots)
            fail("diagonal " + std::to_string(d) + " has " + std::to_string(v.size()) + " entries, expected " +
                 std::to_string(slots));
    }
    if (scale_ == 0) scale_ = P.nominal_scale(level);
    if (!(scale_ >= 1)) fail("plaintext scale must be >= 1");
    split_ = bsgs_split(diagonal_indices(), slots, n1);
    for (std::size_t g : split_.giant) {
        Giant G;
        G.step = g;
        for (std::size_t bi = 0; bi < split_.baby.size(); ++bi) {
            const auto it = diags_.find(g + split_.baby[bi]);
            if (it == diags_.end()) continue;
            // rot(diag, -g): entry r is diag[(r - g) mod n].
            std::vector<cplx> pre(slots);
            for (std::size_t r = 0; r < slots; ++r) pre[r] = it->second[(r + slots - g) % slots];
            Term t;
            t.baby_index = bi;
            t.coeffs = prepare_coeffs(encode_coeffs(enc, pre, scale_, slots));
            if (!compact_) {
                coeffs_to_qp(P, t.coeffs, level, level + 1 + P.p_count(), t.pt);
                t.coeffs = {};
            }
            G.terms.push_back(std::move(t));
        }
        giants_.push_back(std::move(G));
    }
}

std::vector<std::size_t> LinearTransform::diagonal_indices() const {
    std::vector<std::size_t> idx;
    for (const auto& kv : diags_) idx.push_back(kv.first);
    return idx;
}

std::vector<long> LinearTransform::rotation_steps(LTMethod method) const {
    std::set<long> s;
    if (method == LTMethod::Naive) {
        for (const auto& kv : diags_)
            if (kv.first != 0) s.insert(static_cast<long>(kv.first));
    } else {
        for (std::size_t b : split_.baby)
            if (b != 0) s.insert(static_cast<long>(b));
        const HornerGiants h = horner_giants(split_, slots_);
        if (method == LTMethod::DoubleHoistedFewKeys && h.usable) {
            for (std::size_t g : h.steps) s.insert(static_cast<long>(g));
        } else {
            for (std::size_t g : split_.giant)
                if (g != 0) s.insert(static_cast<long>(g));
        }
    }
    return {s.begin(), s.end()};
}

void LinearTransform::set_output_slots(std::size_t m) {
    if (m == 0 || slots_ % m != 0 || !is_pow2(m))
        fail("output slots " + std::to_string(m) + " must be a power of two dividing " + std::to_string(slots_));
    out_slots_ = m;
}

Ciphertext LinearTransform::evaluate(const Evaluator& ev, const Ciphertext& ct, LTMethod method) const {
    Ciphertext r = evaluate_no_rescale(ev, ct, method);
    ev.rescale_inplace(r);
    return r;
}

Ciphertext LinearTransform::evaluate_no_rescale(const Evaluator& ev, const Ciphertext& ct_in,
                                                LTMethod method) const {
    if (ev.params()->fingerprint() != params_->fingerprint())
        fail("the evaluator's parameters differ from the transform's");
    if (ct_in.size() != 2) fail("expected a relinearized ciphertext (2 parts), got " + std::to_string(ct_in.size()));
    if (ct_in.level < level_)
        fail("ciphertext at level " + std::to_string(ct_in.level) + ", the transform is encoded at level " +
             std::to_string(level_) + ": build it at the ciphertext's level");
    if (ct_in.slots == 0 || ct_in.slots > slots_ || slots_ % ct_in.slots != 0)
        fail("ciphertext with " + std::to_string(ct_in.slots) + " slots, the transform has " +
             std::to_string(slots_) + " (an input may have fewer slots only if they divide it)");
    Ciphertext ct = ct_in;
    if (ct.level > level_) ev.drop_to_level_inplace(ct, level_);
    ct.slots = slots_;
    Ciphertext r;
    switch (method) {
        case LTMethod::Naive: r = eval_naive(ev, ct); break;
        case LTMethod::Hoisted: r = eval_hoisted(ev, ct); break;
        case LTMethod::DoubleHoisted: r = eval_double_hoisted(ev, ct); break;
        case LTMethod::DoubleHoistedFewKeys:
            r = horner_giants(split_, slots_).usable ? eval_double_hoisted_horner(ev, ct) : eval_double_hoisted(ev, ct);
            break;
    }
    r.slots = out_slots_;
    return r;
}

// Σ_d diag_d ⊙ rot(ct, d): the reference, one (hoisted) rotation per diagonal.
Ciphertext LinearTransform::eval_naive(const Evaluator& ev, const Ciphertext& ct) const {
    const Params& P = *params_;
    const std::size_t l = level_;
    std::vector<long> steps;
    for (const auto& kv : diags_) steps.push_back(static_cast<long>(kv.first));
    const std::vector<Ciphertext> rots = ev.rotate_hoisted(ct, steps);
    Ciphertext acc = ct;
    for (Poly& c : acc.parts) std::fill(c.data.begin(), c.data.end(), 0);
    std::size_t i = 0;
    for (const auto& kv : diags_) {
        const Plaintext pt = ev.encoder().encode(kv.second, l, scale_, slots_);
        for (std::size_t j = 0; j < 2; ++j) poly_mul_acc(P, l, acc.parts[j], rots[i].parts[j], pt.poly, l + 1);
        ++i;
    }
    acc.scale = ct.scale * scale_;
    return acc;
}

// BSGS with the baby steps hoisted by the evaluator, sums over Q_l.
Ciphertext LinearTransform::eval_hoisted(const Evaluator& ev, const Ciphertext& ct) const {
    const Params& P = *params_;
    const std::size_t l = level_;
    std::vector<long> steps;
    for (std::size_t b : split_.baby) steps.push_back(static_cast<long>(b));
    const std::vector<Ciphertext> baby = ev.rotate_hoisted(ct, steps);
    Poly scratch;
    Ciphertext total = ct;
    for (Poly& c : total.parts) std::fill(c.data.begin(), c.data.end(), 0);
    total.scale = ct.scale * scale_;
    for (const Giant& G : giants_) {
        Ciphertext acc = total;
        for (Poly& c : acc.parts) std::fill(c.data.begin(), c.data.end(), 0);
        for (const Term& t : G.terms) {
            const Poly& pt = plaintext(t, l + 1, scratch);
            for (std::size_t j = 0; j < 2; ++j) poly_mul_acc(P, l, acc.parts[j], baby[t.baby_index].parts[j], pt, l + 1);
        }
        if (G.step != 0) acc = ev.rotate(acc, static_cast<long>(G.step));
        for (std::size_t j = 0; j < 2; ++j) poly_add(P, l, total.parts[j], total.parts[j], acc.parts[j], l + 1);
    }
    return total;
}

// ---------------------------------------------------------------- double hoisting

namespace {

const SwitchingKey& rotation_key(const Evaluator& ev, std::size_t step, std::size_t slots) {
    const GaloisKeys* gk = ev.galois_keys();
    const std::uint64_t g = ev.encoder().galois_element(static_cast<long>(step), slots);
    if (!gk || !gk->has(g))
        fail("no Galois key for rotation step " + std::to_string(step) + " (element " + std::to_string(g) +
             ") over " + std::to_string(slots) + " slots; generate keys for rotation_steps()");
    return gk->keys.at(g);
}

// The baby rotations of ct over Q_l·P, not ModDowned: rot(ct, b) times P, plus the
// key-switch error (which the final ModDown divides by P). One decomposition for all;
// then limb by limb, every rotation at once: the digits' limb is read from memory once
// and stays in cache for the others, and σ(c0)·P is added in the same pass
// (Halevi–Shoup hoisting; the words are those of inner_product per rotation).
std::vector<std::array<Poly, 2>> baby_steps_qp(const Evaluator& ev, const Ciphertext& ct,
                                               const std::vector<std::size_t>& steps, std::size_t slots) {
    const Params& P = *ev.params();
    const std::size_t l = ct.level, N = P.N(), qp = l + 1 + P.p_count();
    // P mod q_i: c0 lifts to Q_l·P as P·c0, which is 0 modulo the special primes.
    std::vector<u64> p_mod(l + 1);
    for (std::size_t i = 0; i <= l; ++i) p_mod[i] = P.basis_p().product().mod_word(P.q(i));
    std::vector<const SwitchingKey*> keys(steps.size(), nullptr);
    std::vector<std::vector<std::uint32_t>> perms(steps.size());
    bool any = false;
    for (std::size_t bi = 0; bi < steps.size(); ++bi) {
        if (steps[bi] == 0) continue;
        keys[bi] = &rotation_key(ev, steps[bi], slots);
        perms[bi] = automorphism_permutation(N, ev.encoder().galois_element(static_cast<long>(steps[bi]), slots));
        any = true;
    }
    Decomposition dec;
    if (any) dec = decompose(P, ct.parts[1], l);
    for (const SwitchingKey* key : keys)
        if (key) check_switching_key(*key, l, dec.digits.size());
    std::vector<std::array<Poly, 2>> baby(steps.size());
    for (auto& B : baby)
        for (Poly& x : B) x = Poly(N, qp, true, Poly::uninit);  // every limb written below
    for_each_limb(qp, N, [&](std::size_t i) {
        const std::size_t ri = rns_index(P, l, i);
        const Modulus& m = P.modulus(ri);
        thread_local std::vector<u64, DefaultInitAllocator<u64>> scratch;
        if (scratch.size() < 2 * N) scratch.resize(2 * N);
        u64* t = scratch.data();
        u64* a_buf = scratch.data() + N;  // a seeded key's a_j limb
        for (std::size_t bi = 0; bi < steps.size(); ++bi) {
            u64* o0 = baby[bi][0].limb(i);
            u64* o1 = baby[bi][1].limb(i);
            if (!keys[bi]) {  // rotation by 0: P·ct
                for (std::size_t j = 0; j < 2; ++j) {
                    u64* o = baby[bi][j].limb(i);
                    if (i <= l)
                        eltwise_mul_scalar_mod(o, ct.parts[j].limb(i), p_mod[i], N, m);
                    else
                        std::fill(o, o + N, 0);
                }
                continue;
            }
            const SwitchingKey& key = *keys[bi];
            const std::vector<std::uint32_t>& perm = perms[bi];
            for (std::size_t j = 0; j < dec.digits.size(); ++j) {
                const u64* dj = dec.digits[j].limb(i);
                for (std::size_t k = 0; k < N; ++k) t[k] = dj[perm[k]];
                const u64* bj = key.b_limb(P, j, ri);
                const u64* aj = key.a_limb(P, j, ri, a_buf);
                if (j == 0) {
                    eltwise_mul_mod(o0, t, bj, N, m);
                    eltwise_mul_mod(o1, t, aj, N, m);
                } else {
                    eltwise_mul_acc_mod(o0, t, bj, N, m);
                    eltwise_mul_acc_mod(o1, t, aj, N, m);
                }
            }
            if (i <= l) {  // + σ(c0)·P
                const u64* c0 = ct.parts[0].limb(i);
                for (std::size_t k = 0; k < N; ++k) t[k] = c0[perm[k]];
                eltwise_mul_scalar_mod(t, t, p_mod[i], N, m);
                eltwise_add_mod(o0, o0, t, N, m);
            }
        }
    });
    return baby;
}

// A zero polynomial (NTT form), zeroed limb by limb in parallel (a serial memset of the
// 35 limbs at N = 2^16 is 17.5 MB on one core).
Poly zero_poly(std::size_t N, std::size_t limbs) {
    Poly p(N, limbs, true, Poly::uninit);
    for_each_limb(limbs, N, [&](std::size_t i) { std::fill(p.limb(i), p.limb(i) + N, 0); });
    return p;
}

// rot(A, step) over Q_l·P, in place: σ(A0) + KS(σ(ModDown(A1))), the key switch not
// ModDowned (A = P·(message ciphertext) + error, as the baby steps). S is scratch.
void rotate_qp(const Evaluator& ev, Poly& A0, Poly& A1, std::size_t step, std::size_t slots, std::size_t l, Poly& S) {
    const Params& P = *ev.params();
    const std::size_t N = P.N(), qp = l + 1 + P.p_count();
    const SwitchingKey& key = rotation_key(ev, step, slots);
    const auto perm = automorphism_permutation(N, ev.encoder().galois_element(static_cast<long>(step), slots));
    Poly c1 = A1;
    mod_down(P, c1, l);  // only its decomposition is needed
    Poly v0;
    switch_key_fused(P, c1, l, key, v0, A1, &perm);  // A1 := the key switch's second part, over Q_l·P
    apply_automorphism_ntt(A0, S, perm, qp);
    poly_add(P, l, A0, S, v0, qp);
}

}  // namespace

void LinearTransform::giant_sum(const Giant& G, const std::vector<std::array<Poly, 2>>& baby, Poly& A0,
                                Poly& A1) const {
    const Params& P = *params_;
    const std::size_t l = level_, qp = l + 1 + P.p_count(), N = P.N();
    // Limb by limb, all terms at once: the two accumulator limbs (and a compact term's
    // plaintext limb, made on the spot) stay in cache while the terms stream through,
    // instead of a pass over every limb of A0 and A1 per term.
    for_each_limb(qp, N, [&](std::size_t i) {
        u64* a0 = A0.limb(i);
        u64* a1 = A1.limb(i);
        std::fill(a0, a0 + N, 0);
        std::fill(a1, a1 + N, 0);
        const Modulus& m = P.modulus(rns_index(P, l, i));
        thread_local std::vector<u64> pt_limb;
        if (compact_) pt_limb.resize(N);
        for (const Term& t : G.terms) {
            const u64* pt = pt_limb.data();
            if (compact_)
                prepared_limb(P, t.coeffs, l, i, pt_limb.data());
            else
                pt = t.pt.limb(i);
            eltwise_mul_acc_mod(a0, baby[t.baby_index][0].limb(i), pt, N, m);
            eltwise_mul_acc_mod(a1, baby[t.baby_index][1].limb(i), pt, N, m);
        }
    });
}

// Double hoisting with the giant steps nested (HornerGiants): the giant sums Y_j are
// formed in the order j = J … 0, each added to the running total after the total has
// been rotated by n1; one final rotation by k_s·n1. The same products as
// eval_double_hoisted; the giant rotations are sequential.
Ciphertext LinearTransform::eval_double_hoisted_horner(const Evaluator& ev, const Ciphertext& ct) const {
    const Params& P = *params_;
    const std::size_t l = level_, N = P.N(), qp = l + 1 + P.p_count();
    const HornerGiants h = horner_giants(split_, slots_);
    const std::size_t n1 = split_.n1, K = slots_ / n1;
    std::vector<const Giant*> by_k(K, nullptr);
    for (const Giant& G : giants_) by_k[G.step / n1] = &G;
    const std::vector<std::array<Poly, 2>> baby = baby_steps_qp(ev, ct, split_.baby, slots_);
    Poly T0 = zero_poly(N, qp), T1 = zero_poly(N, qp);
    Poly A0(N, qp, true, Poly::uninit), A1(N, qp, true, Poly::uninit), S(N, qp, true, Poly::uninit);
    bool started = false;
    for (std::size_t j = h.span + 1; j-- > 0;) {
        if (started) rotate_qp(ev, T0, T1, n1, slots_, l, S);
        const Giant* G = by_k[(h.start + j) % K];
        if (!G) continue;
        giant_sum(*G, baby, A0, A1);
        poly_add(P, l, T0, T0, A0, qp);
        poly_add(P, l, T1, T1, A1, qp);
        started = true;
    }
    if (h.start != 0) rotate_qp(ev, T0, T1, h.start * n1, slots_, l, S);
    return finish_qp(std::move(T0), std::move(T1), ct);
}

// The sum accumulated over Q_l·P, ModDowned once to Q_l: the transform's output.
Ciphertext LinearTransform::finish_qp(Poly&& T0, Poly&& T1, const Ciphertext& ct) const {
    const Params& P = *params_;
    mod_down(P, T0, level_);
    mod_down(P, T1, level_);
    Ciphertext r;
    r.fingerprint = ct.fingerprint;
    r.parts.push_back(std::move(T0));
    r.parts.push_back(std::move(T1));
    r.level = level_;
    r.scale = ct.scale * scale_;
    r.slots = slots_;
    return r;
}

// BSGS with double hoisting (Bossuat et al. 2021): the baby rotations stay over Q_l·P
// as P·rot(ct) + (key-switch error), the products and giant sums are taken there, each
// giant rotation ModDowns its c1 (to decompose it) but keeps c0 and the key-switch
// output over Q_l·P, and the total is ModDowned once. Saves 2·(babies) + giants - 2
// ModDowns against eval_hoisted at the price of products over k more limbs.
Ciphertext LinearTransform::eval_double_hoisted(const Evaluator& ev, const Ciphertext& ct) const {
    const Params& P = *params_;
    const std::size_t l = level_, N = P.N(), qp = l + 1 + P.p_count();
    const std::vector<std::array<Poly, 2>> baby = baby_steps_qp(ev, ct, split_.baby, slots_);
    Poly T0 = zero_poly(N, qp), T1 = zero_poly(N, qp);
    Poly A0(N, qp, true, Poly::uninit), A1(N, qp, true, Poly::uninit), S0(N, qp, true, Poly::uninit);
    for (const Giant& G : giants_) {
        giant_sum(G, baby, A0, A1);
        if (G.step != 0) rotate_qp(ev, A0, A1, G.step, slots_, l, S0);
        poly_add(P, l, T0, T0, A0, qp);
        poly_add(P, l, T1, T1, A1, qp);
    }
    return finish_qp(std::move(T0), std::move(T1), ct);
}

const Poly& LinearTransform::plaintext(const Term& t, std::size_t limbs, Poly& scratch) const {
    if (!compact_) return t.pt;
    coeffs_to_qp(*params_, t.coeffs, level_, limbs, scratch);
    return scratch;
}

void LinearTransform::precompute() {
    if (!compact_) return;
    const Params& P = *params_;
    for (Giant& G : giants_)
        for (Term& t : G.terms) {
            coeffs_to_qp(P, t.coeffs, level_, level_ + 1 + P.p_count(), t.pt);
            t.coeffs = {};
        }
    compact_ = false;
}

std::size_t LinearTransform::precomputed_bytes() const {
    std::size_t terms = 0;
    for (const Giant& G : giants_) terms += G.terms.size();
    std::size_t b = terms * (level_ + 1 + params_->p_count()) * params_->N() * sizeof(u64);
    for (const auto& kv : diags_) b += kv.second.size() * sizeof(cplx);
    return b;
}

std::size_t LinearTransform::memory_bytes() const {
    std::size_t b = 0;
    for (const Giant& G : giants_)
        for (const Term& t : G.terms) b += t.pt.data.size() * sizeof(u64) + t.coeffs.bytes();
    for (const auto& kv : diags_) b += kv.second.size() * sizeof(cplx);
    return b;
}

}  // namespace bt::ckks
