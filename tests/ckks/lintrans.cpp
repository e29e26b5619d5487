// Tests for encrypted linear transforms and the homomorphic DFT: dense and sparse-
// diagonal matrices times an encrypted vector against the plaintext product; BSGS (single
// and double hoisting, several n1) against the naive diagonal method; the factored DFT
// against Encoder::fft_special / fft_special_inv; CoeffsToSlots then SlotsToCoeffs as
// the identity (full and sparse packing, several level budgets); SlotsToCoeffs read
// through the polynomial coefficients; and Galois keys generated for exactly the
// reported rotation steps (enough, and every one of them needed).
#include "doctest/doctest.h"

#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/lintrans.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>

using namespace bt;
using namespace bt::ckks;

namespace {

double max_err(const std::vector<cplx>& got, const std::vector<cplx>& want) {
    double mx = 0;
    for (std::size_t i = 0; i < want.size(); ++i) mx = std::max(mx, std::abs(got[i] - want[i]));
    return mx;
}
double bits(double err) { return -std::log2(err); }

std::vector<cplx> rnd(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(n);
    for (auto& x : z) x = cplx(u(rng), u(rng));
    return z;
}

Seed seed_of(std::uint8_t v) {
    Seed s{};
    s.fill(v);
    return s;
}

// N = 2^11, 8 levels at 2^50 above a 60-bit q_0, two 60-bit special primes. Insecure.
ParamsLiteral test_ring() {
    ParamsLiteral lit;
    lit.log_n = 11;
    lit.log_q = {60, 50, 50, 50, 50, 50, 50, 50, 50};
    lit.log_p = {60, 60};
    lit.log_scale = 50;
    lit.insecure = true;
    lit.name = "lintrans_test";
    return lit;
}

struct Fixture {
    ParamsPtr P = Params::create(test_ring());
    KeyGenerator kg{P, seed_of(11)};
    SecretKey sk = kg.secret_key();
    PublicKey pk = kg.public_key(sk);
    Encoder enc{P};
    Encryptor encryptor{P, pk, seed_of(12)};
    Decryptor dec{P, sk};

    Ciphertext encrypt(const std::vector<cplx>& z, std::size_t level, std::size_t slots) {
        return encryptor.encrypt(enc.encode(z, level, 0, slots));
    }
    std::vector<cplx> decrypt(const Ciphertext& c) { return enc.decode(dec.decrypt(c)); }
    GaloisKeys keys(const std::vector<long>& steps, std::size_t slots, bool conj = false) {
        return kg.galois_keys(sk, kg.galois_elements_for_steps(steps, slots, conj));
    }
    // The 2n coefficients (positions k·N/2n) of the decryption, divided by the scale, and
    // the largest other coefficient.
    std::vector<double> coefficients(const Ciphertext& c, std::size_t n, double& off_grid) {
        Plaintext pt = dec.decrypt(c);
        from_ntt(*P, pt.poly, pt.level);
        const std::size_t N = P->N(), gap = N / (2 * n);
        const RNSBasis& B = P->basis_q(pt.level);
        std::vector<u64> res(pt.level + 1);
        std::vector<double> out(2 * n);
        off_grid = 0;
        for (std::size_t pos = 0; pos < N; ++pos) {
            for (std::size_t l = 0; l <= pt.level; ++l) res[l] = pt.poly.limb(l)[pos];
            const double v = static_cast<double>(B.compose_centered(res.data()) / static_cast<long double>(pt.scale));
            if (pos % gap == 0)
                out[pos / gap] = v;
            else
                off_grid = std::max(off_grid, std::fabs(v));
        }
        return out;
    }
};

Fixture& fx() {
    static Fixture f;
    return f;
}

Diagonals random_diagonals(const std::vector<std::size_t>& idx, std::size_t n, std::uint64_t seed) {
    Diagonals m;
    for (std::size_t d : idx) m[d] = rnd(n, seed + d);
    return m;
}

}  // namespace

TEST_SUITE("ckks") {

TEST_CASE("lintrans: plaintext diagonal algebra and the BSGS split") {
    const std::size_t n = 16;
    const std::vector<cplx> a = rnd(n * n, 1), b = rnd(n * n, 2), v = rnd(n, 3);
    const Diagonals da = dense_to_diagonals(a, n), db = dense_to_diagonals(b, n);
    CHECK(da.size() == n);
    CHECK(max_err(diagonals_to_dense(da, n), a) == 0.0);
    // A·v by rows against the diagonal form.
    std::vector<cplx> av(n, cplx(0, 0)), abv(n, cplx(0, 0));
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < n; ++c) av[r] += a[r * n + c] * v[c];
    CHECK(max_err(apply_diagonals(da, v, n), av) < 1e-13);
    // (A·B)·v = A·(B·v).
    CHECK(max_err(apply_diagonals(compose_diagonals(da, db, n), v, n),
                  apply_diagonals(da, apply_diagonals(db, v, n), n)) < 1e-12);

    // Every diagonal is baby + giant; the automatic n1 is the best power of two.
    const std::vector<std::size_t> idx{0, 1, 2, 3, 5, 8, 13, 15};
    const BsgsSplit s = bsgs_split(idx, n);
    for (std::size_t d : idx) {
        CHECK(std::count(s.baby.begin(), s.baby.end(), d % s.n1) == 1);
        CHECK(std::count(s.giant.begin(), s.giant.end(), d - d % s.n1) == 1);
    }
    for (std::size_t m = 1; m <= n; m <<= 1) CHECK(bsgs_split(idx, n, m).rotations >= s.rotations);
    CHECK(bsgs_split(idx, n, 1).rotations == idx.size() - 1);  // n1 = 1: all giant steps
    CHECK_THROWS_AS(bsgs_split({16}, n), std::invalid_argument);
}

TEST_CASE("lintrans: random dense matrix times an encrypted vector") {
    Fixture& f = fx();
    const std::size_t n = 128, level = 5;
    const std::vector<cplx> a = rnd(n * n, 21), z = rnd(n, 22);
    const LinearTransform lt(f.enc, dense_to_diagonals(a, n), n, level);
    REQUIRE(lt.diagonal_indices().size() == n);
    const GaloisKeys gk = f.keys(lt.rotation_steps(), n);
    const Evaluator ev(f.P, nullptr, &gk);
    const Ciphertext ct = f.encrypt(z, level, n);
    const std::vector<cplx> want = lt.apply_plain(z);
    for (LTMethod m : {LTMethod::Hoisted, LTMethod::DoubleHoisted}) {
        const Ciphertext r = lt.evaluate(ev, ct, m);
        CHECK(r.level == level - 1);
        CHECK(std::fabs(r.scale / f.P->nominal_scale(level - 1) - 1) < 1e-12);
        const double e = max_err(f.decrypt(r), want);
        const std::string how = m == LTMethod::Hoisted ? "hoisted" : "double hoisted";
        MESSAGE("dense 128x128 (" << lt.rotation_count(m) << " rotations, n1 = " << lt.split().n1 << ", " << how
                                  << "): precision " << bits(e) << " bits");
        CHECK(bits(e) > 30);
    }
}

TEST_CASE("lintrans: sparse-diagonal matrix, BSGS (hoisted, double hoisted, any n1) equals the naive method") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots(), level = 4;
    const std::vector<std::size_t> idx{0, 1, 2, 7, 64, 65, 300, 511, 512, 1000, 1023};
    const Diagonals m = random_diagonals(idx, n, 31);
    const std::vector<cplx> z = rnd(n, 32);
    const std::vector<cplx> want = apply_diagonals(m, z, n);
    // Keys for every diagonal (the naive method) and every split tried below.
    std::set<long> steps;
    std::vector<LinearTransform> lts;
    for (std::size_t n1 : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{32}}) {
        lts.emplace_back(f.enc, m, n, level, 0, n1);
        for (long s : lts.back().rotation_steps(LTMethod::Naive)) steps.insert(s);
        for (long s : lts.back().rotation_steps()) steps.insert(s);
    }
    const GaloisKeys gk = f.keys({steps.begin(), steps.end()}, n);
    const Evaluator ev(f.P, nullptr, &gk);
    const Ciphertext ct = f.encrypt(z, level, n);
    const std::vector<cplx> naive = f.decrypt(lts[0].evaluate(ev, ct, LTMethod::Naive));
    MESSAGE("sparse, 11 diagonals, naive: precision " << bits(max_err(naive, want)) << " bits");
    CHECK(bits(max_err(naive, want)) > 30);
    for (const LinearTransform& lt : lts) {
        for (LTMethod meth : {LTMethod::Hoisted, LTMethod::DoubleHoisted}) {
            const std::vector<cplx> got = f.decrypt(lt.evaluate(ev, ct, meth));
            const double e = max_err(got, want), d = max_err(got, naive);
            const std::string how = meth == LTMethod::Hoisted ? "hoisted" : "double hoisted";
            MESSAGE("sparse, n1 = " << lt.split().n1 << " (" << lt.rotation_count(meth) << " rotations), " << how
                                    << ": precision "
                                    << bits(e) << " bits, vs naive " << bits(d) << " bits");
            CHECK(bits(e) > 30);
            CHECK(bits(d) > 30);
        }
    }
    CHECK(lts[0].rotation_count() <= lts[1].rotation_count());
}

TEST_CASE("lintrans: encode_qp's limbs of q_0..q_l are Encoder::encode's words, coefficients up to 2^61.8") {
    // encode_qp reduces 64-bit magnitudes with one multiplication by floor(2^64/q) and
    // applies the signs without branches (prepared_limb, which compact transforms run at
    // every evaluation); Encoder::encode reduces the same rounded integers by its own
    // residue(). Scales from 2^20 to just below the 4e18 cut-off (beyond it encode_qp keeps
    // wide integers), full and sparse packing, and a zero vector (zero coefficients).
    Fixture f;
    const std::size_t level = 3, N = f.P->N();
    std::size_t compared = 0;
    for (std::size_t slots : {N / 2, std::size_t{64}})
        for (double scale : {std::ldexp(1.0, 20), std::ldexp(1.0, 50), std::ldexp(1.0, 60), 0.0}) {
            std::vector<cplx> z = rnd(slots, 200 + slots);
            if (scale == 0) {  // the largest scale that keeps every coefficient below 4e18
                std::vector<cplx> w = z;
                f.enc.fft_special_inv(w.data(), slots);
                double mx = 0;
                for (const cplx& v : w) mx = std::max({mx, std::fabs(v.real()), std::fabs(v.imag())});
                scale = 3.99e18 / mx;
            }
            for (int zero = 0; zero < 2; ++zero) {
                if (zero) std::fill(z.begin(), z.end(), cplx(0, 0));
                const Poly qp = encode_qp(f.enc, z, level, scale, slots);
                const Plaintext pt = f.enc.encode(z, level, scale, slots);
                REQUIRE(qp.limbs == level + 1 + f.P->p_count());
                for (std::size_t i = 0; i <= level; ++i) {
                    CHECK_MESSAGE(std::equal(pt.poly.limb(i), pt.poly.limb(i) + N, qp.limb(i)),
                                  "limb " << i << ", slots " << slots << ", scale 2^" << std::log2(scale));
                    ++compared;
                }
            }
        }
    CHECK(compared == 2 * 4 * 2 * (level + 1));
}

TEST_CASE("lintrans: compact plaintext storage gives the same ciphertexts with less memory") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots(), level = 6;
    const Diagonals m = random_diagonals({0, 1, 2, 3, 40, 41, 42, 43, 700, 1023}, n, 81);
    const LinearTransform full(f.enc, m, n, level), compact(f.enc, m, n, level, 0, 0, true);
    // Per plaintext (l+1+k)·N words = 147 KB against 2n long doubles = 32 KB; both keep the
    // diagonals (16 KB each).
    CHECK(compact.memory_bytes() * 3 < full.memory_bytes());
    const GaloisKeys gk = f.keys(full.rotation_steps(), n);
    const Evaluator ev(f.P, nullptr, &gk);
    const Ciphertext ct = f.encrypt(rnd(n, 82), level, n);
    for (LTMethod meth : {LTMethod::Hoisted, LTMethod::DoubleHoisted}) {
        const Ciphertext a = full.evaluate(ev, ct, meth), b = compact.evaluate(ev, ct, meth);
        REQUIRE(a.parts.size() == b.parts.size());
        for (std::size_t j = 0; j < a.parts.size(); ++j) CHECK(a.parts[j].data == b.parts[j].data);
    }
    MESSAGE("10 diagonals at level 6, N = 2^11: " << full.memory_bytes() << " bytes precomputed, "
                                                  << compact.memory_bytes() << " compact");
    // A compact transform precomputed later holds what a precomputed one holds and gives its words.
    LinearTransform later(f.enc, m, n, level, 0, 0, true);
    CHECK(later.compact());
    CHECK(later.precomputed_bytes() == full.memory_bytes());
    CHECK(full.precomputed_bytes() == full.memory_bytes());
    later.precompute();
    CHECK_FALSE(later.compact());
    CHECK(later.memory_bytes() == full.memory_bytes());
    later.precompute();  // no-op
    for (LTMethod meth : {LTMethod::DoubleHoisted, LTMethod::DoubleHoistedFewKeys}) {
        const GaloisKeys gk2 = f.keys(full.rotation_steps(meth), n);
        const Evaluator ev2(f.P, nullptr, &gk2);
        const Ciphertext a = full.evaluate(ev2, ct, meth), b = later.evaluate(ev2, ct, meth);
        for (std::size_t j = 0; j < a.parts.size(); ++j) CHECK(a.parts[j].data == b.parts[j].data);
    }
}

TEST_CASE("lintrans: keys for exactly rotation_steps() suffice and each one is needed") {
    Fixture& f = fx();
    const std::size_t n = 256, level = 3;
    const std::vector<std::size_t> idx{0, 3, 4, 5, 6, 17, 100, 101, 255};
    const LinearTransform lt(f.enc, random_diagonals(idx, n, 41), n, level);
    const std::vector<long> steps = lt.rotation_steps();
    REQUIRE(!steps.empty());
    const GaloisKeys all = f.keys(steps, n);
    REQUIRE(all.keys.size() == steps.size());
    const std::vector<cplx> z = rnd(n, 42);
    const Ciphertext ct = f.encrypt(z, level, n);
    const std::vector<cplx> want = lt.apply_plain(z);
    {
        const Evaluator ev(f.P, nullptr, &all);
        for (LTMethod m : {LTMethod::Hoisted, LTMethod::DoubleHoisted})
            CHECK(bits(max_err(f.decrypt(lt.evaluate(ev, ct, m)), want)) > 30);
    }
    for (long s : steps) {
        GaloisKeys fewer = all;
        fewer.keys.erase(f.enc.galois_element(s, n));
        const Evaluator ev(f.P, nullptr, &fewer);
        CHECK_THROWS_AS(lt.evaluate(ev, ct, LTMethod::Hoisted), std::invalid_argument);
        CHECK_THROWS_AS(lt.evaluate(ev, ct, LTMethod::DoubleHoisted), std::invalid_argument);
    }
}

TEST_CASE("lintrans: the factored DFT multiplies out to the special FFT and its inverse") {
    Fixture& f = fx();
    for (std::size_t n : {std::size_t{4}, std::size_t{32}, std::size_t{256}}) {
        const std::size_t L = static_cast<std::size_t>(std::log2(static_cast<double>(n)));
        // Dense references: column c of fft_special·R and of R·fft_special_inv.
        std::vector<cplx> fwd(n * n), inv(n * n);
        for (std::size_t c = 0; c < n; ++c) {
            std::vector<cplx> e(n, cplx(0, 0));
            e[c] = 1;
            std::vector<cplx> a = bit_reverse_vector(e), b = e;
            f.enc.fft_special(a.data(), n);
            f.enc.fft_special_inv(b.data(), n);
            b = bit_reverse_vector(b);
            for (std::size_t r = 0; r < n; ++r) {
                fwd[r * n + c] = a[r];
                inv[r * n + c] = b[r];
            }
        }
        for (std::size_t budget = 1; budget <= L; ++budget) {
            for (DFTKind kind : {DFTKind::SlotsToCoeffs, DFTKind::CoeffsToSlots}) {
                DFTOptions o;
                o.kind = kind;
                o.slots = n;
                o.level_budget = budget;
                const DFTPlan plan = plan_dft(f.P->N(), o);
                std::vector<std::size_t> k;
                for (const auto& st : plan.stages) k.push_back(st.layers);
                const std::vector<Diagonals> fac = dft_factors(f.enc, kind, n, k);
                REQUIRE(fac.size() == budget);
                Diagonals prod = fac[0];
                for (std::size_t t = 1; t < fac.size(); ++t) prod = compose_diagonals(fac[t], prod, n);
                const auto& want = kind == DFTKind::SlotsToCoeffs ? fwd : inv;
                const double e = max_err(diagonals_to_dense(prod, n), want);
                CHECK_MESSAGE(e < 1e-12, "n = " << n << " budget " << budget << ": error " << e);
                for (std::size_t t = 0; t < fac.size(); ++t)
                    CHECK(fac[t].size() <= (std::size_t{2} << k[t]) - 1);  // 2^(k+1) - 1 diagonals
            }
        }
    }
}

TEST_CASE("lintrans: CoeffsToSlots puts the coefficients in slots, SlotsToCoeffs undoes it (full and sparse)") {
    Fixture& f = fx();
    const std::size_t top = f.P->max_level();
    struct Case {
        std::size_t slots, budget;
        bool keep_scale;
        double scaling;  // CoeffsToSlots multiplies by it, SlotsToCoeffs divides
    };
    for (const Case c : {Case{1024, 2, false, 1}, Case{1024, 3, true, 0.25}, Case{128, 2, false, 1},
                         Case{128, 4, true, -3}, Case{64, 1, false, 1}, Case{16, 4, false, 1}}) {
        const std::size_t n = c.slots;
        const bool sparse = n < f.P->max_slots();
        DFTOptions o;
        o.slots = n;
        o.level_budget = c.budget;
        o.level = top;
        o.kind = DFTKind::CoeffsToSlots;
        o.keep_scale = c.keep_scale;
        o.scaling = c.scaling;
        const HomomorphicDFT cts(f.enc, o);
        o.kind = DFTKind::SlotsToCoeffs;
        o.level = cts.output_level();
        o.scaling = 1 / c.scaling;
        const HomomorphicDFT stc(f.enc, o);
        CHECK(cts.depth() == c.budget);
        CHECK(stc.output_level() == top - 2 * c.budget);
        std::vector<std::uint64_t> g = cts.galois_elements(), g2 = stc.galois_elements();
        g.insert(g.end(), g2.begin(), g2.end());
        const GaloisKeys gk = f.kg.galois_keys(f.sk, g);
        const Evaluator ev(f.P, nullptr, &gk);

        const std::vector<cplx> z = rnd(n, 50 + n + c.budget);
        std::vector<cplx> w = z;  // the encoding's coefficient pairs c_k + i·c_(k+n)
        f.enc.fft_special_inv(w.data(), n);
        const Ciphertext ct = f.encrypt(z, top, n);
        const HomomorphicDFT::Split s = cts.coeffs_to_slots(ev, ct);
        CHECK(s.real.level == top - c.budget);
        if (c.keep_scale) {  // plaintexts at q_l: the scale goes through unchanged
            CHECK(std::fabs(s.real.scale / ct.scale - 1) < 1e-14);
        } else {  // plaintexts at Δ_l: nominal scale in, nominal scale out
            CHECK(std::fabs(s.real.scale / f.P->nominal_scale(top - c.budget) - 1) < 1e-12);
        }
        std::vector<cplx> re(n), im(n);
        const std::vector<cplx> wr = bit_reverse_vector(w);
        for (std::size_t k = 0; k < n; ++k) {
            re[k] = wr[k].real() * c.scaling;
            im[k] = wr[k].imag() * c.scaling;
        }
        double e_cts;
        if (sparse) {
            CHECK(s.real.slots == 2 * n);
            CHECK(s.imag.parts.empty());
            std::vector<cplx> both = re;
            both.insert(both.end(), im.begin(), im.end());
            e_cts = max_err(f.decrypt(s.real), both);
        } else {
            e_cts = std::max(max_err(f.decrypt(s.real), re), max_err(f.decrypt(s.imag), im));
        }
        const Ciphertext back = stc.slots_to_coeffs(ev, s.real, sparse ? nullptr : &s.imag);
        CHECK(back.slots == n);
        const double e_rt = max_err(f.decrypt(back), z);
        CHECK(back.level == top - 2 * c.budget);
        MESSAGE("DFT n = " << n << ", budget " << c.budget << ", scaling " << c.scaling
                           << std::string(c.keep_scale ? ", scale kept" : ", nominal scales") << ": CoeffsToSlots " << cts.plan().rotations()
                           << " key switches, precision " << bits(e_cts) << " bits; SlotsToCoeffs "
                           << stc.plan().rotations() << " key switches; round trip precision " << bits(e_rt)
                           << " bits");
        CHECK(bits(e_cts) > 30);
        CHECK(bits(e_rt) > 25);
    }
}

TEST_CASE("lintrans: SlotsToCoeffs writes the slot values into the polynomial coefficients") {
    Fixture& f = fx();
    for (std::size_t n : {std::size_t{1024}, std::size_t{64}}) {
        const bool sparse = n < f.P->max_slots();
        DFTOptions o;
        o.kind = DFTKind::SlotsToCoeffs;
        o.slots = n;
        o.level_budget = 3;
        o.level = 6;
        const HomomorphicDFT stc(f.enc, o);
        const GaloisKeys gk = f.kg.galois_keys(f.sk, stc.galois_elements());
        const Evaluator ev(f.P, nullptr, &gk);
        std::vector<cplx> a = rnd(n, 61), b = rnd(n, 62);
        for (std::size_t k = 0; k < n; ++k) {
            a[k] = a[k].real();
            b[k] = b[k].imag();
        }
        Ciphertext out;
        if (sparse) {
            std::vector<cplx> ab = a;
            ab.insert(ab.end(), b.begin(), b.end());
            out = stc.slots_to_coeffs(ev, f.encrypt(ab, o.level, 2 * n), nullptr);
        } else {
            const Ciphertext ca = f.encrypt(a, o.level, n), cb = f.encrypt(b, o.level, n);
            out = stc.slots_to_coeffs(ev, ca, &cb);
        }
        double off = 0;
        const std::vector<double> coef = f.coefficients(out, n, off);
        double e = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t src = bit_reverse(k, n);
            e = std::max(e, std::fabs(coef[k] - a[src].real()));
            e = std::max(e, std::fabs(coef[k + n] - b[src].real()));
        }
        const std::string extra = sparse ? ", largest off-grid coefficient 2^" + std::to_string(std::log2(off)) : "";
        MESSAGE("SlotsToCoeffs n = " << n << ": coefficient precision " << bits(e) << " bits" << extra);
        CHECK(bits(e) > 30);
        if (sparse) CHECK(off < 1e-8);  // a message of n slots lives in Z[X^(N/2n)]
        if (!sparse) {
            // The stages alone on one ciphertext of complex slots z = a + i·b: coefficient k
            // is Re z_br(k), coefficient k + n is Im z_br(k).
            std::vector<cplx> z(n);
            for (std::size_t k = 0; k < n; ++k) z[k] = cplx(a[k].real(), b[k].real());
            const std::vector<double> c2 = f.coefficients(stc.apply_stages(ev, f.encrypt(z, o.level, n)), n, off);
            double e2 = 0;
            for (std::size_t k = 0; k < n; ++k) {
                e2 = std::max(e2, std::fabs(c2[k] - z[bit_reverse(k, n)].real()));
                e2 = std::max(e2, std::fabs(c2[k + n] - z[bit_reverse(k, n)].imag()));
            }
            CHECK(bits(e2) > 30);
        }
    }
}

TEST_CASE("lintrans: the subring trace projects onto n-slot messages (sparse packing)") {
    Fixture& f = fx();
    const std::size_t half = f.P->max_slots(), n = 64, level = 2;
    const std::vector<long> steps = subring_trace_steps(f.P->N(), n);
    CHECK(steps == std::vector<long>{64, 128, 256, 512});
    const GaloisKeys gk = f.keys(steps, 0);
    const Evaluator ev(f.P, nullptr, &gk);
    const std::vector<cplx> z = rnd(half, 71);
    Ciphertext t = subring_trace(ev, f.encrypt(z, level, half), n);
    CHECK(t.slots == n);
    CHECK(t.level == level);
    double off = 0;
    f.coefficients(t, n, off);
    CHECK(off < 1e-8);  // only the coefficients at multiples of N/2n are left
    std::vector<cplx> want(half, cplx(0, 0));
    for (std::size_t j = 0; j < half; ++j)
        for (std::size_t u = 0; u < half / n; ++u) want[j] += z[(j + u * n) % half];
    t.slots = half;  // read all N/2 slots: the result repeats with period n
    const double e = max_err(f.decrypt(t), want);
    MESSAGE("subring trace N/2 -> 64 slots: precision " << bits(e) << " bits");
    CHECK(bits(e) > 30);
}

TEST_CASE("lintrans: every Galois element a DFT reports is needed") {
    Fixture& f = fx();
    for (DFTKind kind : {DFTKind::CoeffsToSlots, DFTKind::SlotsToCoeffs}) {
        DFTOptions o;
        o.kind = kind;
        o.slots = 128;
        o.level_budget = 2;
        o.level = 4;
        const HomomorphicDFT dft(f.enc, o);
        const std::vector<std::uint64_t> g = dft.galois_elements();
        CHECK(g.size() == dft.rotation_steps().size() + (dft.needs_conjugation() ? 1 : 0));
        const GaloisKeys all = f.kg.galois_keys(f.sk, g);
        const Ciphertext ct = f.encrypt(rnd(128, 91), o.level, kind == DFTKind::CoeffsToSlots ? 128 : 256);
        auto run = [&](const Evaluator& ev) {
            if (kind == DFTKind::CoeffsToSlots)
                (void)dft.coeffs_to_slots(ev, ct);
            else
                (void)dft.slots_to_coeffs(ev, ct, nullptr);
        };
        CHECK_NOTHROW(run(Evaluator(f.P, nullptr, &all)));
        for (std::uint64_t e : g) {
            GaloisKeys fewer = all;
            fewer.keys.erase(e);
            CHECK_THROWS_AS(run(Evaluator(f.P, nullptr, &fewer)), std::invalid_argument);
        }
    }
}

TEST_CASE("lintrans: DFT costs at N = 2^16 (symbolic plans)") {
    // The table of the report: depth = level budget; more budget, fewer key switches.
    for (std::size_t logs : {std::size_t{15}, std::size_t{12}}) {
        for (DFTKind kind : {DFTKind::CoeffsToSlots, DFTKind::SlotsToCoeffs}) {
            std::size_t prev = ~std::size_t{0};
            for (std::size_t b : {std::size_t{2}, std::size_t{3}, std::size_t{4}}) {
                DFTOptions o;
                o.kind = kind;
                o.slots = std::size_t{1} << logs;
                o.level_budget = b;
                const DFTPlan p = plan_dft(std::size_t{1} << 16, o);
                MESSAGE(p.describe());
                CHECK(p.depth() == b);
                CHECK(p.rotations() < prev);
                prev = p.rotations();
                for (std::size_t t = 0; t < p.stages.size(); ++t) {
                    const bool doubled = logs < 15 && kind == DFTKind::SlotsToCoeffs && t == 0;
                    CHECK(p.stages[t].diagonals.size() <= ((std::size_t{2} << p.stages[t].layers) - 1) * (doubled ? 2 : 1));
                }
            }
        }
    }
}

TEST_CASE("lintrans: DFT plans and argument checks") {
    Fixture& f = fx();
    DFTOptions o;
    o.slots = 1024;
    o.level_budget = 3;
    o.level = 8;
    const DFTPlan p = plan_dft(f.P->N(), o);
    CHECK(p.depth() == 3);
    CHECK(p.conjugation);
    std::size_t layers = 0;
    for (const auto& st : p.stages) layers += st.layers;
    CHECK(layers == 10);
    o.layers_per_stage = {4, 3, 3};
    CHECK(plan_dft(f.P->N(), o).rotations() >= p.rotations());  // the search found the minimum
    o.layers_per_stage = {4, 4};
    CHECK_THROWS_AS(plan_dft(f.P->N(), o), std::invalid_argument);
    o.layers_per_stage.clear();
    o.level_budget = 11;
    CHECK_THROWS_AS(plan_dft(f.P->N(), o), std::invalid_argument);
    o.level_budget = 3;
    o.level = 2;  // three stages need three levels
    CHECK_THROWS_AS(HomomorphicDFT(f.enc, o), std::invalid_argument);
    CHECK_THROWS_AS(LinearTransform(f.enc, Diagonals{}, 8, 3), std::invalid_argument);
    CHECK_THROWS_AS(LinearTransform(f.enc, Diagonals{{8, std::vector<cplx>(8)}}, 8, 3), std::invalid_argument);
    CHECK_THROWS_AS(LinearTransform(f.enc, Diagonals{{1, std::vector<cplx>(4)}}, 8, 3), std::invalid_argument);
}

}  // TEST_SUITE

TEST_SUITE("ckks") {

TEST_CASE("lintrans: Horner giant steps (few keys): the run, the keys, and the same product") {
    // The run starts after the largest cyclic gap: giants {0, 1, 2} of 8 start at 0 (2
    // rotations by n1), {6, 7, 0, 1, 2} at 6 (4 by n1, then one by 6·n1); {0, 4} and
    // {0, 2, 4, 6} (holes: 7 key switches for 3 giants) are not worth it.
    auto split_of = [](std::vector<std::size_t> ks, std::size_t n1) {
        BsgsSplit s;
        s.n1 = n1;
        s.baby = {0};
        for (std::size_t k : ks) s.giant.push_back(k * n1);
        std::sort(s.giant.begin(), s.giant.end());
        return s;
    };
    HornerGiants h = horner_giants(split_of({0, 1, 2}, 4), 32);
    CHECK(h.usable);  // 2 nonzero giants, one key
    CHECK(h.rotations == 2);
    CHECK(h.steps == std::vector<std::size_t>{4});
    h = horner_giants(split_of({0, 1, 2, 3}, 4), 32);
    CHECK(h.usable);
    CHECK(h.start == 0);
    CHECK(h.span == 3);
    CHECK(h.rotations == 3);
    CHECK(h.steps == std::vector<std::size_t>{4});
    h = horner_giants(split_of({6, 7, 0, 1, 2}, 4), 32);
    CHECK(h.usable);
    CHECK(h.start == 6);
    CHECK(h.span == 4);
    CHECK(h.rotations == 5);
    CHECK(h.steps == std::vector<std::size_t>{4, 24});
    CHECK_FALSE(horner_giants(split_of({0, 4}, 4), 32).usable);
    CHECK_FALSE(horner_giants(split_of({0, 2, 4, 6}, 4), 32).usable);

    // Encrypted: the same product as the naive reference, with exactly the few keys.
    Fixture& f = fx();
    const std::size_t n = 256, level = 4;
    std::vector<std::size_t> idx;
    for (std::size_t d = 0; d < 18; ++d) idx.push_back(d);
    for (std::size_t d = 250; d < 256; ++d) idx.push_back(d);
    const LinearTransform lt(f.enc, random_diagonals(idx, n, 91), n, level, 0, 4);
    const HornerGiants hh = horner_giants(lt.split(), n);
    REQUIRE(hh.usable);
    const std::vector<long> few = lt.rotation_steps(LTMethod::DoubleHoistedFewKeys), all = lt.rotation_steps();
    MESSAGE("24 diagonals, n1 = 4: " << all.size() << " keys (one per giant) vs " << few.size() << " (Horner)");
    CHECK(few.size() + 2 <= all.size());
    const GaloisKeys gk = f.keys(few, n);
    const std::vector<cplx> z = rnd(n, 92);
    const Ciphertext ct = f.encrypt(z, level, n);
    const Evaluator ev(f.P, nullptr, &gk);
    const double err = max_err(f.decrypt(lt.evaluate(ev, ct, LTMethod::DoubleHoistedFewKeys)), lt.apply_plain(z));
    MESSAGE("Horner giant steps: precision " << bits(err) << " bits");
    CHECK(bits(err) > 30);
    // Each of the few keys is needed.
    for (long s : few) {
        GaloisKeys fewer = gk;
        fewer.keys.erase(f.enc.galois_element(s, n));
        const Evaluator ev2(f.P, nullptr, &fewer);
        CHECK_THROWS_AS(lt.evaluate(ev2, ct, LTMethod::DoubleHoistedFewKeys), std::invalid_argument);
    }
    // A DFT with the few-keys method: fewer keys, and CoeffsToSlots then SlotsToCoeffs
    // is still the identity (checked on the plan's key set only).
    DFTOptions o;
    o.kind = DFTKind::CoeffsToSlots;
    o.slots = 1024;
    o.level_budget = 2;
    o.level = f.P->max_level();
    const DFTPlan plain = plan_dft(f.P->N(), o);
    o.method = LTMethod::DoubleHoistedFewKeys;
    const DFTPlan fk = plan_dft(f.P->N(), o);
    MESSAGE("CoeffsToSlots N=2^11, 2 stages: " << plain.rotation_steps().size() << " keys, few-keys "
                                               << fk.rotation_steps().size() << "; key switches " << plain.rotations()
                                               << " vs " << fk.rotations());
    CHECK(fk.rotation_steps().size() <= plain.rotation_steps().size());
    CHECK(fk.rotations() <= plain.rotations() + 2);
}

}  // TEST_SUITE
