// Tests for src/train/plan.cpp, backends.cpp and encrypted.cpp: the packed circuits against
// plain references (twin backend), the CKKS run against its twin (secret-key bootstrapping
// stand-in), the level plan and the softmax polynomials.
#include "doctest/doctest.h"

#include "bt/train/encrypted.hpp"
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/keys.hpp"
#include "../ckks/ckks_test_util.hpp"
#include "train_test_util.hpp"

#include <cmath>
#include <numeric>
#include <random>

using namespace bt::train;
namespace ck = bt::ckks;

namespace {

// Random features in the range the trainer sees (standardised, bias column 1).
Features random_features(std::size_t n, std::size_t d, int classes, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0, 1);
    std::vector<float> raw(n * d);
    std::vector<int> lab(n);
    for (std::size_t i = 0; i < n; ++i) {
        lab[i] = static_cast<int>(rng() % static_cast<std::uint64_t>(classes));
        for (std::size_t j = 0; j < d; ++j)
            raw[i * d + j] = static_cast<float>(g(rng) + (j % static_cast<std::size_t>(classes) ==
                                                                  static_cast<std::size_t>(lab[i]) ? 1.5 : 0.0));
    }
    return Normalizer::fit(raw, n, d, 0.5).apply(raw, n, d, lab, classes);
}

Head random_head(std::size_t c, std::size_t cols, double amp, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-amp, amp);
    Head h;
    h.classes = c;
    h.cols = cols;
    h.w.resize(c * cols);
    for (double& x : h.w) x = u(rng);
    return h;
}

// The reference step with the polynomial softmax: W' = V − lr·(P − Y)ᵀX/B.
Head reference_step(const SoftmaxPolys& sp, const Head& v, const Features& f, const std::vector<std::size_t>& rows,
                    double lr) {
    Head g = v;
    std::fill(g.w.begin(), g.w.end(), 0.0);
    for (std::size_t r : rows) {
        std::vector<double> z(v.classes);
        for (std::size_t k = 0; k < v.classes; ++k)
            for (std::size_t j = 0; j < v.cols; ++j) z[k] += v.row(k)[j] * f.row(r)[j];
        const auto p = poly_softmax_row(sp, z);
        for (std::size_t k = 0; k < v.classes; ++k) {
            const double dk = p[k] - (f.label[r] == static_cast<int>(k) ? 1.0 : 0.0);
            for (std::size_t j = 0; j < v.cols; ++j) g.row(k)[j] += dk * f.row(r)[j];
        }
    }
    Head out = v;
    for (std::size_t i = 0; i < out.w.size(); ++i) out.w[i] -= lr * g.w[i] / static_cast<double>(rows.size());
    return out;
}

template <class BK, class Enc>
BatchData<BK> make_batch(const EncShape& sh, const Features& f, const std::vector<std::size_t>& rows, Enc enc) {
    BatchData<BK> bd;
    for (const auto& v : pack_x(sh, f, rows)) bd.x.push_back(enc(v, 0));
    bd.y = enc(pack_y(sh, f, rows), 1);
    for (std::size_t b = 0; b < sh.blocks; ++b) {
        const std::size_t lo = b * sh.s0;
        bd.rows_valid.push_back(rows.size() > lo ? std::min(sh.s0, rows.size() - lo) : 0);
    }
    bd.total_rows = rows.size();
    return bd;
}

double max_diff(const Head& a, const Head& b) {
    double m = 0;
    for (std::size_t i = 0; i < a.w.size(); ++i) m = std::max(m, std::fabs(a.w[i] - b.w[i]));
    return m;
}

}  // namespace

TEST_SUITE("train") {

TEST_CASE("encrypted: shapes are validated with a clear message") {
    CHECK_NOTHROW(EncShape::make(1 << 15, 120, 5, 256));
    const EncShape s = EncShape::make(1 << 15, 120, 5, 600);
    CHECK(s.s1 == 128);
    CHECK(s.s0 == 256);
    CHECK(s.cpad == 8);
    CHECK(s.blocks == 3);
    CHECK_THROWS_WITH_AS(EncShape::make(1 << 15, 120, 5, 4096), doctest::Contains("largest batch"), std::invalid_argument);
    CHECK_THROWS_AS(EncShape::make(1 << 15, 120, 1, 256), std::invalid_argument);
    CHECK_THROWS_AS(EncShape::make(256, 200, 5, 16), std::invalid_argument);
}

TEST_CASE("encrypted: the polynomial softmax is close to the exact softmax inside its range") {
    for (int c : {2, 3, 5, 8, 10}) {
        const std::size_t cpad = c <= 2 ? 2 : (c <= 4 ? 4 : (c <= 8 ? 8 : 16));
        const SoftmaxPolys sp = SoftmaxPolys::build(SoftmaxConfig{}, c, cpad);
        std::mt19937_64 rng(static_cast<std::uint64_t>(c));
        std::uniform_real_distribution<double> u(-1, 1);
        double worst = 0;
        for (int trial = 0; trial < 2000; ++trial) {
            std::vector<double> z(static_cast<std::size_t>(c));
            const double spread = sp.cfg.V * (trial % 4 == 0 ? 1.0 : 0.3);
            for (double& x : z) x = 5 + spread * u(rng) * (c > 1 ? (c - 1.0) / c : 1);  // |z - mean| <= V
            const auto p = poly_softmax_row(sp, z);
            double mx = *std::max_element(z.begin(), z.end()), s = 0;
            for (double x : z) s += std::exp(x - mx);
            for (std::size_t k = 0; k < z.size(); ++k) worst = std::max(worst, std::fabs(p[k] - std::exp(z[k] - mx) / s));
        }
        INFO("c = " << c << ": " << sp.describe() << "; worst |p - softmax| = " << worst);
        // The final inverse sets the precision (the earlier ones only scale each row).
        CHECK(worst < 1.2 * sp.inv2_rel_err + 1e-5);
        CHECK(worst < 3e-3);
    }
}

TEST_CASE("encrypted: twin forward and step equal the plain reference (several shapes)") {
    struct Case { std::size_t slots, d; int c; std::size_t batch; };
    for (const Case& cs : {Case{1 << 12, 20, 5, 40}, Case{1 << 12, 30, 3, 64}, Case{1 << 11, 7, 10, 33},
                           Case{1 << 12, 127, 2, 96}, Case{1 << 12, 60, 10, 80}, Case{1 << 12, 61, 10, 64}}) {
        const EncShape sh = EncShape::make(cs.slots, cs.d, cs.c, cs.batch);
        const SoftmaxPolys sp = SoftmaxPolys::build(SoftmaxConfig{}, cs.c, sh.cpad);
        const Features f = random_features(cs.batch, cs.d, cs.c, 7 + cs.d);
        std::vector<std::size_t> rows(cs.batch);
        std::iota(rows.begin(), rows.end(), 0);
        TwinBackend tb(sh.slots, sh.tile_slots());
        Engine<TwinBackend> eng(sh, sp, tb);
        auto bd = make_batch<TwinBackend>(sh, f, rows, [](const std::vector<double>& v, int) { return v; });
        if (cs.d % 2 == 0) eng.prepare(bd);  // cached and per-step rotations of X both exercised
        const Head v0 = random_head(static_cast<std::size_t>(cs.c), sh.cols, 0.5, 3);
        std::vector<double> w = pack_head(sh, v0), v = w;
        eng.step(w, v, bd, 0.8, 0.0);
        const Head expect = reference_step(sp, v0, f, rows, 0.8);
        INFO(sh.describe());
        CHECK(max_diff(unpack_head(sh, w), expect) < 1e-10);
        CHECK(eng.ranges.within(sp));
        // The tiled layout is preserved exactly (every copy, padded rows zero).
        const auto repacked = pack_head(sh, unpack_head(sh, w));
        double dev = 0;
        for (std::size_t p = 0; p < w.size(); ++p) dev = std::max(dev, std::fabs(repacked[p] - w[p]));
        CHECK(dev < 1e-14);
    }
}

// One block per batch (5 classes), and three (10 classes: blocks 0 and 2 paired as the real and
// imaginary parts of one ciphertext in the logits, block 1 alone; giant steps k = 8 of c' = 16).
void ckks_matches_twin(std::size_t d, int classes, std::size_t batch) {
    const auto P = ck::Params::create(bt_test::train_test_literal("train_test_N12"));
    const EncShape sh = EncShape::make(P->max_slots(), d, classes, batch);
    INFO(sh.describe());
    SoftmaxConfig sc;
    sc.inv2_degree = 15;  // this ring has the levels of the degree-15 final inverse (as the app chooses for it)
    const SoftmaxPolys sp = SoftmaxPolys::build(sc, classes, sh.cpad);
    const LevelPlan plan = LevelPlan::make(sp, P->max_level());
    INFO(plan.describe());
    REQUIRE(plan.feasible);
    const Features f = random_features(3 * batch, d, classes, 11);

    // Twin: enumerate the rotations the step needs, then the keys for exactly those.
    TwinBackend tb(sh.slots, sh.tile_slots());
    Engine<TwinBackend> te(sh, sp, tb);
    ck::KeyGenerator kg(P, bt_test::seed_of(77));
    const ck::SecretKey sk = kg.secret_key();
    const ck::PublicKey pk = kg.public_key(sk);
    ck::Encoder enc(P);
    ck::Encryptor encr(P, pk);
    ck::Decryptor dec(P, sk);

    std::vector<BatchData<TwinBackend>> tbatches;
    std::vector<std::vector<std::size_t>> batches;
    for (std::size_t s = 0; s < 3; ++s) {
        std::vector<std::size_t> rows(batch);
        std::iota(rows.begin(), rows.end(), s * batch);
        batches.push_back(rows);
        tbatches.push_back(make_batch<TwinBackend>(sh, f, rows, [](const std::vector<double>& v, int) { return v; }));
        if (s != 1) te.prepare(tbatches.back());
    }
    std::vector<double> tw(sh.slots, 0.0), tv = tw;
    NesterovSchedule sched;
    std::vector<double> gammas;
    for (std::size_t s = 0; s < 3; ++s) {
        gammas.push_back(sched.next());
        te.step(tw, tv, tbatches[s], 1.0, gammas.back());
    }
    std::vector<long> steps(tb.rotation_steps().begin(), tb.rotation_steps().end());
    const ck::RelinKey rk = kg.relin_key(sk);
    const ck::GaloisKeys gk = kg.galois_keys(sk, galois_elements(kg, steps));
    ck::Evaluator ev(P, &rk, &gk);
    ck::SecretKeyBootstrapper boot(P, sk, P->max_level());
    CkksBackend cb(ev, boot, boot, sh.tile_slots());
    cb.set_probe(&dec);
    Engine<CkksBackend> ce(sh, sp, cb);
    auto encx = [&](const std::vector<double>& v, int which) {
        const std::size_t lvl = which == 0 ? plan.x_level : plan.y_label_level;
        return encr.encrypt(enc.encode(v, lvl, P->nominal_scale(lvl)));
    };
    ck::Ciphertext cw = encr.encrypt(enc.encode(std::vector<double>(sh.slots, 0.0), plan.L, P->nominal_scale(plan.L)));
    ck::Ciphertext cv = cw;
    for (std::size_t s = 0; s < 3; ++s) {
        auto bd = make_batch<CkksBackend>(sh, f, batches[s], encx);
        if (s != 2) ce.prepare(bd);
        ce.step(cw, cv, bd, 1.0, gammas[s]);
        CHECK(cw.level == plan.L);
    }
    const auto z = enc.decode(dec.decrypt(cw));
    std::vector<double> got(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) got[i] = z[i].real();
    const Head hc = unpack_head(sh, got), ht = unpack_head(sh, tw);
    const double diff = max_diff(hc, ht);
    double amp = 0;
    for (double x : ht.w) amp = std::max(amp, std::fabs(x));
    MESSAGE("CKKS vs twin after 3 steps: max |dW| = " << diff << " (max |W| = " << amp << ", log2 " << std::log2(diff)
                                                       << "); ranges " << ce.ranges.describe(sp));
    // The look-ahead V holds the head's slots only (the momentum would carry and amplify the
    // bootstrap noise of the others from step to step): exact zeros up to one product's noise.
    double off_w = 0, off_v = 0;
    {
        const auto zv = enc.decode(dec.decrypt(cv));
        for (std::size_t p = 0; p < sh.slots; ++p) {
            if (sh.is_head_weight(p)) continue;
            off_w = std::max(off_w, std::fabs(z[p].real()));
            off_v = std::max(off_v, std::fabs(zv[p].real()));
        }
    }
    MESSAGE("outside the head after 3 steps: max |W| " << off_w << ", max |V| " << off_v);
    CHECK(off_v < 0.5 * off_w);  // without the mask V carries (1 + 2γ)·W's noise there (measured 7.3e-8 vs 6.2e-8)
    CHECK(amp > 0.05);       // it actually trained
    CHECK(diff < 1e-4);      // CKKS noise at 2^40 through ~25 levels, well below the step size
    CHECK(ce.ranges.within(sp));
    CHECK(boot.calls() == 6);
    CHECK(cb.counts.boot_full == 3);
    CHECK(cb.counts.boot_sparse == 3);
}

TEST_CASE("encrypted: CKKS step with the stand-in bootstrapper matches its float64 twin") {
    SUBCASE("one block, 5 classes") { ckks_matches_twin(24, 5, 40); }
    SUBCASE("three blocks, 10 classes") { ckks_matches_twin(60, 10, 40); }
}

}  // TEST_SUITE
