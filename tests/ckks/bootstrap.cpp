// Tests for src/ckks/bootstrap.cpp: ModRaise decrypts to m + q_0·I with I a small
// integer polynomial (checked coefficient by coefficient with exact CRT), and the
// secret-key stand-in refreshes to its output level and counts calls.
#include "doctest/doctest.h"

#include "ckks_test_util.hpp"
#include "bt/ckks/bootstrap.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace bt;
using namespace bt::ckks;

using bt_test::seed_of;

TEST_SUITE("ckks") {

TEST_CASE("bootstrap: ModRaise decrypts to m + q0*I with small I") {
    auto P = preset("N12_test");
    KeyGenerator kg(P, seed_of(31));
    const SecretKey sk = kg.secret_key();
    const Encoder enc(P);
    Encryptor e(P, sk, seed_of(32));
    const Decryptor dec(P, sk);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> x(P->max_slots());
    for (auto& v : x) v = u(rng);
    const Ciphertext c0 = e.encrypt(enc.encode(x, 0, std::ldexp(1.0, 30)));
    const std::size_t L = P->max_level();
    const Ciphertext raised = mod_raise(*P, c0, L);
    CHECK(raised.level == L);
    CHECK(raised.scale == c0.scale);
    Poly before = dec.decrypt(c0).poly, after = dec.decrypt(raised).poly;
    from_ntt(*P, before, 0);
    from_ntt(*P, after, L);
    const u64 q0 = P->q(0);
    double max_i = 0;
    bool divisible = true;
    std::vector<u64> res(L + 1);
    for (std::size_t k = 0; k < P->N(); ++k) {
        for (std::size_t l = 0; l <= L; ++l) res[l] = after.limb(l)[k];
        const long double big = P->basis_q(L).compose_centered(res.data());
        const long double m = static_cast<long double>(to_centered(before.limb(0)[k], q0));
        const long double I = (big - m) / static_cast<long double>(q0);
        divisible = divisible && std::fabs(static_cast<double>(I - std::nearbyint(I))) < 1e-6;
        max_i = std::max(max_i, static_cast<double>(std::fabs(I)));
    }
    CHECK(divisible);
    // |c0 + c1·s| <= q0/2·(1 + ||s||_1), so |I| <= (h + 1)/2 + 1 with h <= N; measured
    // values are about sqrt(N/18)·5 for a uniform ternary secret.
    MESSAGE("ModRaise: max |I| = " << max_i << " (N = " << P->N() << ", uniform ternary secret)");
    CHECK(max_i <= (static_cast<double>(P->N()) + 1) / 2 + 1);
    CHECK(max_i >= 1);  // I is not trivially zero: the test sees the q0 multiples
    CHECK_THROWS_WITH_AS(mod_raise(*P, raised, L), doctest::Contains("drop it to level 0"), std::invalid_argument);
}

TEST_CASE("bootstrap: the secret-key stand-in refreshes to its level and counts calls") {
    auto P = preset("N12_test");
    KeyGenerator kg(P, seed_of(33));
    const SecretKey sk = kg.secret_key();
    const Encoder enc(P);
    Encryptor e(P, sk, seed_of(34));
    const Decryptor dec(P, sk);
    const SecretKeyBootstrapper bs(P, sk, 5, seed_of(35));
    const std::vector<double> x{0.25, -0.5, 0.75, 1.0};
    Ciphertext c = e.encrypt(enc.encode(x, 0, 0, 4));
    const Ciphertext r = bs.bootstrap(c);
    CHECK(r.level == 5);
    CHECK(r.scale == P->nominal_scale(5));
    CHECK(r.slots == 4);
    const auto z = enc.decode(dec.decrypt(r));
    for (std::size_t i = 0; i < 4; ++i) CHECK(std::abs(z[i] - cplx(x[i], 0)) < 1e-6);
    bs.bootstrap(r);
    CHECK(bs.calls() == 2);
}

}  // TEST_SUITE

TEST_SUITE("ckks") {

TEST_CASE("bootstrap: EvalMod reduces t = I + delta to delta (exact modular reduction), and matches its twin") {
    // A ring whose levels all have ~59-bit primes, as bootstrapping's EvalMod levels do,
    // with nominal scales near the primes. Insecure (tests only).
    ParamsLiteral lit;
    lit.log_n = 12;
    lit.log_q = std::vector<int>(12, 59);
    lit.log_q[0] = 60;
    lit.log_p = {60, 60};
    lit.log_scale = 59;
    lit.insecure = true;
    lit.name = "evalmod_test";
    auto P = Params::create(lit);
    KeyGenerator kg(P, seed_of(41));
    const SecretKey sk = kg.secret_key();
    const RelinKey rk = kg.relin_key(sk);
    const Encoder enc(P);
    Encryptor e(P, sk, seed_of(42));
    const Decryptor dec(P, sk);
    const Evaluator ev(P, &rk);

    EvalModConfig cfg;
    cfg.K = 16;
    cfg.double_angles = 3;
    cfg.degree = 63;
    const EvalMod em(cfg);
    CHECK(em.depth() == 10);
    MESSAGE("EvalMod K=16, r=3, degree 63: cosine interpolation error 2^" << std::log2(em.interpolation_error())
                                                                           << ", depth " << em.depth());
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<int> I(-16, 16);
    std::uniform_real_distribution<double> d(-1.0 / 4096, 1.0 / 4096);
    const std::size_t n = P->max_slots();
    std::vector<double> t(n), delta(n);
    for (std::size_t i = 0; i < n; ++i) {
        delta[i] = d(rng);
        t[i] = I(rng) + delta[i];
    }
    const std::size_t L = P->max_level();
    const Ciphertext ct = e.encrypt(enc.encode(t, L));
    const Ciphertext out = em.apply(ev, ct);
    CHECK(out.level == L - 10);
    const auto z = enc.decode(dec.decrypt(out));
    double err_mod = 0, err_twin = 0, sum_mod = 0;
    for (std::size_t i = 0; i < n; ++i) {
        err_mod = std::max(err_mod, std::fabs(z[i].real() - delta[i]));
        sum_mod += std::fabs(z[i].real() - delta[i]);
        err_twin = std::max(err_twin, std::fabs(z[i].real() - em.twin(t[i])));
    }
    MESSAGE("EvalMod vs t mod 1: max error 2^" << std::log2(err_mod) << ", mean 2^"
                                                << std::log2(sum_mod / static_cast<double>(n)) << "; vs twin: max 2^"
                                                << std::log2(err_twin));
    // sin(2πδ)/(2π) differs from δ by at most (2π)²|δ|³/6 = 2^-31.7 for |δ| <= 2^-12; the
    // cosine's interpolation error is multiplied by up to 4 per double angle (×64) and
    // divided by 2π; CKKS noise at a 59-bit scale is far below. Bound: 2^-24.
    CHECK(err_mod < std::ldexp(1.0, -24));
    CHECK(err_twin < std::ldexp(1.0, -24));
    // The twin itself reduces correctly: the same bound without encryption.
    double twin_mod = 0;
    for (std::size_t i = 0; i < n; ++i) twin_mod = std::max(twin_mod, std::fabs(em.twin(t[i]) - delta[i]));
    CHECK(twin_mod < std::ldexp(1.0, -24));
}

}  // TEST_SUITE

TEST_SUITE("ckks") {

namespace {
// N = 2^11, sparse secret h = 32 (|I| <= 16.5, so K = 16 covers every coefficient):
// q_0 60 bits; 5 levels at 2^40; 12 levels of 60 bits (EvalMod with three double
// angles takes 9 of them now that its change of variable is folded into
// CoeffsToSlots, CoeffsToSlots 2): 4 levels are left. Insecure (tests only).
ParamsPtr boot_params() {
    ParamsLiteral lit;
    lit.log_n = 11;
    lit.log_q = {60, 40, 40, 40, 40, 40};
    for (int i = 0; i < 12; ++i) lit.log_q.push_back(60);
    lit.log_p = {61, 61, 61};
    lit.log_scale = 40;
    lit.secret = SecretDist::SparseTernary;
    lit.hamming_weight = 32;
    lit.insecure = true;
    lit.name = "boot_test";
    static ParamsPtr P = Params::create(lit);
    return P;
}

// The keys and codecs of a bootstrapping test on boot_params(), from fixed seeds.
struct BootFixture {
    ParamsPtr P = boot_params();
    KeyGenerator kg;
    SecretKey sk;
    RelinKey rk;
    Encoder enc;
    Encryptor e;
    Decryptor dec;
    BootFixture(std::uint8_t key_seed, std::uint8_t enc_seed)
        : kg(P, seed_of(key_seed)), sk(kg.secret_key()), rk(kg.relin_key(sk)), enc(P), e(P, sk, seed_of(enc_seed)),
          dec(P, sk) {}
};

// Two CoeffsToSlots and two SlotsToCoeffs levels, K = 16, degree 63, three double angles.
BootstrapConfig small_boot_config(std::size_t slots) {
    BootstrapConfig cfg;
    cfg.slots = slots;
    cfg.cts_budget = 2;
    cfg.stc_budget = 2;
    cfg.evalmod.K = 16;
    cfg.evalmod.double_angles = 3;
    cfg.evalmod.degree = 63;
    return cfg;
}
}  // namespace

TEST_CASE("bootstrap: compact transforms precomputed later give the same words; per-giant DFT keys the same precision") {
    BootFixture f(61, 62);
    const ParamsPtr& P = f.P;
    const std::size_t slots = P->max_slots();
    BootstrapConfig cfg = small_boot_config(slots);
    cfg.dft_method = LTMethod::DoubleHoistedFewKeys;
    cfg.compact_cts = cfg.compact_stc = true;
    BootstrapConfig fast = cfg;
    fast.dft_method = LTMethod::DoubleHoisted;
    fast.compact_cts = fast.compact_stc = false;
    CkksBootstrapper compact(P, cfg), later(P, cfg), per_giant(P, fast);
    CHECK(later.transforms_compact());
    CHECK(later.precomputed_bytes() > 3 * later.memory_bytes());
    later.precompute_transforms();
    CHECK_FALSE(later.transforms_compact());
    CHECK(later.memory_bytes() == later.precomputed_bytes());
    // One key per giant step: more keys than Horner's two per stage, none used repeatedly.
    CHECK(per_giant.galois_elements().size() > compact.galois_elements().size());
    CHECK(per_giant.seeded_elements().size() == per_giant.galois_elements().size());
    std::vector<std::uint64_t> all = per_giant.galois_elements();
    for (std::uint64_t g : compact.galois_elements()) all.push_back(g);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    const GaloisKeys gk = f.kg.galois_keys(f.sk, all);
    for (CkksBootstrapper* b : {&compact, &later, &per_giant}) b->set_keys(&f.rk, &gk);
    std::mt19937_64 rng(63);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(slots);
    for (auto& v : z) v = cplx(u(rng), u(rng));
    const Ciphertext c = f.e.encrypt(f.enc.encode(z, 0, 0, slots));
    const Ciphertext a = compact.bootstrap(c), b = later.bootstrap(c), g = per_giant.bootstrap(c);
    for (std::size_t j = 0; j < 2; ++j) CHECK(a.parts[j].data == b.parts[j].data);
    double bits[2];
    for (int k = 0; k < 2; ++k) {
        const auto got = f.enc.decode(f.dec.decrypt(k == 0 ? a : g));
        double sum = 0;
        for (std::size_t i = 0; i < slots; ++i) sum += std::abs(got[i] - z[i]);
        bits[k] = -std::log2(sum / static_cast<double>(slots));
    }
    MESSAGE("mean precision: Horner DFT keys " << bits[0] << " bits, one key per giant step " << bits[1] << " bits ("
            << compact.galois_elements().size() << " vs " << per_giant.galois_elements().size() << " keys)");
    CHECK(bits[1] > bits[0] - 1);
    CHECK(bits[0] > bits[1] - 1);
}

TEST_CASE("bootstrap: full and sparse packing refresh a level-0 ciphertext") {
    BootFixture f(51, 52);
    const ParamsPtr& P = f.P;
    KeyGenerator& kg = f.kg;
    const SecretKey& sk = f.sk;
    const RelinKey& rk = f.rk;
    const Encoder& enc = f.enc;
    Encryptor& e = f.e;
    const Decryptor& dec = f.dec;
    for (std::size_t slots : {P->max_slots(), std::size_t{64}}) {
        const BootstrapConfig cfg = small_boot_config(slots);
        CkksBootstrapper bs(P, cfg);
        MESSAGE(bs.describe());
        CHECK(bs.output_level() == 4);
        const GaloisKeys gk = kg.galois_keys(sk, bs.galois_elements());
        bs.set_keys(&rk, &gk);
        std::mt19937_64 rng(slots);
        std::uniform_real_distribution<double> u(-1, 1);
        std::vector<cplx> z(slots);
        for (auto& v : z) v = cplx(u(rng), u(rng));
        const Ciphertext c = e.encrypt(enc.encode(z, 0, 0, slots));
        const Ciphertext r = bs.bootstrap(c);
        CHECK(r.level == 4);
        CHECK(r.scale == P->nominal_scale(4));
        const auto got = enc.decode(dec.decrypt(r));
        double mx = 0, sum = 0;
        for (std::size_t i = 0; i < slots; ++i) {
            const double err = std::abs(got[i] - z[i]);
            mx = std::max(mx, err);
            sum += err;
        }
        MESSAGE("bootstrap " << slots << " slots: precision max " << -std::log2(mx) << " bits, mean "
                             << -std::log2(sum / static_cast<double>(slots)) << " bits");
        CHECK(-std::log2(mx) > 15);
        CHECK(bs.calls() == 1);
        // The refreshed ciphertext computes: one multiplication after bootstrapping.
        const Evaluator ev(P, &rk);
        const auto sq = enc.decode(dec.decrypt(ev.multiply_relin_rescale(r, r)));
        CHECK(std::abs(sq[1] - z[1] * z[1]) < 1e-3);
    }
}

}  // TEST_SUITE
