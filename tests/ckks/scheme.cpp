// Tests for the CKKS scheme: Decrypt(op(Encrypt(x), Encrypt(y))) against op(x, y) for
// every operation, at several levels, with measured precision in bits (-log2 of the
// max and mean absolute error on inputs in [-1, 1]) printed and bounded; rotations as
// exact slot permutations; hoisted = one-by-one rotations; key-switching noise; the
// NTT-domain rescale bit-exact against the coefficient-domain reference; errors.
#include "doctest/doctest.h"

#include "ckks_test_util.hpp"
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"
#include "bt/ntt.hpp"
#include "bt/eltwise.hpp"

#include <algorithm>
#include <cmath>
#include <random>

using namespace bt;
using namespace bt::ckks;

namespace {

struct Bits {
    double max_bits, mean_bits;
};

Bits precision(const std::vector<cplx>& got, const std::vector<cplx>& want) {
    double mx = 0, sum = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double e = std::abs(got[i] - want[i]);
        mx = std::max(mx, e);
        sum += e;
    }
    return {-std::log2(mx), -std::log2(sum / static_cast<double>(want.size()))};
}

std::vector<cplx> rnd(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(n);
    for (auto& x : z) x = cplx(u(rng), u(rng));
    return z;
}

using test_seed_fn = bt::Seed (*)(std::uint8_t);
const test_seed_fn test_seed = bt_test::seed_of;

// One key set on the N = 2^12 test ring, made once.
struct Fixture {
    ParamsPtr P = preset("N12_test");
    KeyGenerator kg{P, test_seed(1)};
    SecretKey sk = kg.secret_key();
    PublicKey pk = kg.public_key(sk);
    RelinKey rk = kg.relin_key(sk);
    std::vector<long> steps{1, 2, 3, 4, 5, -1, 8, 16, 100, 1023};
    GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps(steps, 0, true));
    Encoder enc{P};
    Encryptor encryptor{P, pk, test_seed(2)};
    Encryptor sym{P, sk, test_seed(3)};
    Decryptor dec{P, sk};
    Evaluator ev{P, &rk, &gk};

    Ciphertext encrypt(const std::vector<cplx>& z, std::size_t level) { return encryptor.encrypt(enc.encode(z, level)); }
    std::vector<cplx> decrypt(const Ciphertext& c) { return enc.decode(dec.decrypt(c)); }
};

Fixture& fx() {
    static Fixture f;
    return f;
}

void report(const std::string& what, Bits b) { MESSAGE(what << ": precision max " << b.max_bits << " bits, mean " << b.mean_bits << " bits"); }

}  // namespace

TEST_SUITE("ckks") {

TEST_CASE("scheme: fresh encryption (public and secret key) decrypts to the message") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots();
    const auto z = rnd(n, 1);
    for (std::size_t level : {std::size_t{0}, std::size_t{3}, f.P->max_level()}) {
        const Bits pkb = precision(f.decrypt(f.encrypt(z, level)), z);
        const Bits skb = precision(f.decrypt(f.sym.encrypt(f.enc.encode(z, level))), z);
        report("fresh public-key encryption, level " + std::to_string(level), pkb);
        report("fresh secret-key encryption, level " + std::to_string(level), skb);
        // Scale 2^40, N = 2^12. Secret key: noise e (σ = 3.2) is ≈ σ·sqrt(N) = 2^7.7 in a
        // slot, 2^-32.3 after the scale. Public key: the ModDown rounding ≈ |s|/2·sqrt(N),
        // about 2^-30. Max over 2048 complex slots adds ~2.5 bits. The bar is 25 bits.
        CHECK(pkb.max_bits > 25);
        CHECK(skb.max_bits > 28);
        CHECK(pkb.mean_bits > 28);
    }
    // A seeded symmetric ciphertext regenerates its c1 from the seed.
    Seed s;
    const Ciphertext c = f.sym.encrypt_symmetric_seeded(f.enc.encode(z, 2), s);
    Poly c1;
    expand_seeded_c1(*f.P, s, 2, c1);
    CHECK(c1.data == c.parts[1].data);
}

TEST_CASE("scheme: add, sub, negate, plaintext and constant operations") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots(), L = f.P->max_level();
    const auto x = rnd(n, 2), y = rnd(n, 3);
    const Ciphertext cx = f.encrypt(x, L), cy = f.encrypt(y, L);
    std::vector<cplx> want(n);

    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] + y[i];
    Bits b = precision(f.decrypt(f.ev.add(cx, cy)), want);
    report("add", b);
    CHECK(b.max_bits > 24);

    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] - y[i];
    b = precision(f.decrypt(f.ev.sub(cx, cy)), want);
    CHECK(b.max_bits > 24);

    Ciphertext neg = cx;
    f.ev.negate_inplace(neg);
    for (std::size_t i = 0; i < n; ++i) want[i] = -x[i];
    CHECK(precision(f.decrypt(neg), want).max_bits > 25);

    Ciphertext ap = cx;
    f.ev.add_plain_inplace(ap, f.enc.encode(y, L));
    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] + y[i];
    CHECK(precision(f.decrypt(ap), want).max_bits > 25);

    Ciphertext ac = cx;
    f.ev.add_const_inplace(ac, 0.25);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] + 0.25;
    CHECK(precision(f.decrypt(ac), want).max_bits > 25);

    Ciphertext mp = cx;
    f.ev.mul_plain_inplace(mp, f.enc.encode(y, L));
    f.ev.rescale_inplace(mp);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] * y[i];
    b = precision(f.decrypt(mp), want);
    report("mul_plain + rescale", b);
    CHECK(b.max_bits > 24);
    CHECK(mp.level == L - 1);
    CHECK(std::fabs(mp.scale / f.P->nominal_scale(L - 1) - 1) < 1e-12);

    Ciphertext mc = cx;
    f.ev.mul_const_inplace(mc, -0.7);
    f.ev.rescale_inplace(mc);
    for (std::size_t i = 0; i < n; ++i) want[i] = -0.7 * x[i];
    CHECK(precision(f.decrypt(mc), want).max_bits > 25);

    Ciphertext mi = cx;
    f.ev.mul_int_inplace(mi, -3);
    for (std::size_t i = 0; i < n; ++i) want[i] = -3.0 * x[i];
    CHECK(precision(f.decrypt(mi), want).max_bits > 23);
}

TEST_CASE("scheme: fused sums and dropped operands equal the term-wise operations bit for bit") {
    // weighted_sum, add_scaled_inplace with a higher operand and multiply_at read operands
    // above the target level in place; the reference copies them down and applies the
    // term-wise operations. Modular arithmetic is exact, so the residues must agree.
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots(), L = f.P->max_level();
    auto dropped = [&](const Ciphertext& a, std::size_t level) {
        Ciphertext t = a;
        f.ev.drop_to_level_inplace(t, level);
        return t;
    };
    auto same = [](const Ciphertext& a, const Ciphertext& b) {
        if (a.level != b.level || a.size() != b.size() || a.scale != b.scale) return false;
        for (std::size_t j = 0; j < a.size(); ++j)
            if (!std::equal(a.parts[j].data.begin(), a.parts[j].data.end(), b.parts[j].data.begin())) return false;
        return true;
    };
    const Ciphertext x = f.encrypt(rnd(n, 11), L), y = f.encrypt(rnd(n, 12), L - 1), z = f.encrypt(rnd(n, 13), L - 2);
    const std::size_t at = L - 2;
    const double target = x.scale * 1099511627776.0 * 3.5;  // constants encoded near 2^41.8
    const std::vector<std::pair<double, const Ciphertext*>> terms{{0.3, &x}, {-1.7, &y}, {2.25e-3, &z}, {-0.5, &x}};
    const Ciphertext fused = f.ev.weighted_sum(terms, at, target);
    Ciphertext ref;
    for (std::size_t t = 0; t < terms.size(); ++t) {
        Ciphertext c = dropped(*terms[t].second, at);
        f.ev.mul_const_inplace(c, terms[t].first, target / c.scale);
        c.scale = target;
        if (t == 0)
            ref = c;
        else
            f.ev.add_inplace(ref, c);
    }
    CHECK(same(fused, ref));
    // ... and it decrypts to the weighted sum.
    std::vector<cplx> want(n);
    const auto dx = f.decrypt(x), dy = f.decrypt(y), dz = f.decrypt(z);
    for (std::size_t i = 0; i < n; ++i) want[i] = 0.3 * dx[i] - 1.7 * dy[i] + 2.25e-3 * dz[i] - 0.5 * dx[i];
    Ciphertext fr = fused;
    f.ev.rescale_inplace(fr);
    CHECK(precision(f.decrypt(fr), want).max_bits > 20);

    Ciphertext p1 = f.ev.multiply_at(x, y, at);
    const Ciphertext p0 = f.ev.multiply(dropped(x, at), dropped(y, at));
    CHECK(same(p1, p0));
    Ciphertext p2 = p0;
    f.ev.add_scaled_inplace(p1, x, -0.75);  // x two levels above
    Ciphertext xs = dropped(x, at);
    f.ev.mul_const_inplace(xs, -0.75, p2.scale / xs.scale);
    xs.scale = p2.scale;
    f.ev.add_inplace(p2, xs);
    CHECK(same(p1, p2));

    CHECK_THROWS_WITH_AS(f.ev.weighted_sum(terms, L, target), doctest::Contains("below the sum's level"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.ev.weighted_sum({{1.0, &x}}, at, x.scale / 2), doctest::Contains("above the sum's"),
                         std::invalid_argument);
    Ciphertext low = z;
    CHECK_THROWS_WITH_AS(f.ev.add_scaled_inplace(low, dropped(x, at - 1), 1.0), doctest::Contains("below the target"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.ev.multiply_at(x, z, L - 1), doctest::Contains("cannot be dropped"), std::invalid_argument);
}

TEST_CASE("scheme: automorphism permutations (table-driven) equal the defining formula with bit reversal") {
    // Reference: output k is the evaluation at ψ^(2·brv(k)+1); σ_g maps it to ψ^((2·brv(k)+1)·g mod 2n).
    for (std::size_t n : {std::size_t{16}, std::size_t{1024}, std::size_t{1} << 16}) {
        int logn = 0;
        while ((std::size_t{1} << logn) < n) ++logn;
        const std::uint64_t m = 2 * n;
        for (std::uint64_t g : {std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{5}, m - 1, std::uint64_t{25} % m,
                                (std::uint64_t{5} * 5 * 5 * 5 * 5 * 5 * 5) % m, m + 3}) {  // m + 3: reduced mod 2n
            const std::vector<std::uint32_t> perm = ckks::automorphism_permutation(n, g);
            REQUIRE(perm.size() == n);
            std::size_t bad = 0;
            std::vector<bool> hit(n, false);
            for (std::size_t k = 0; k < n; ++k) {
                const std::uint64_t e = (2 * bit_reverse(k, logn) + 1) * (g % m) % m;
                bad += perm[k] != bit_reverse(static_cast<std::size_t>((e - 1) / 2), logn);
                hit[perm[k]] = true;
            }
            CHECK(bad == 0);
            CHECK(std::count(hit.begin(), hit.end(), true) == static_cast<long>(n));  // a permutation
        }
    }
    CHECK_THROWS_WITH_AS(ckks::automorphism_permutation(1024, 4), doctest::Contains("is even"), std::invalid_argument);
    CHECK_THROWS_AS(ckks::automorphism_permutation(1024, 2048), std::invalid_argument);
}

TEST_CASE("scheme: the fused key switch gives the words of decompose + inner product (with and without a permutation)") {
    Fixture& f = fx();
    const Params& P = *f.P;
    const std::size_t n = P.max_slots(), N = P.N();
    const std::uint64_t g = f.ev.encoder().galois_element(3, n);
    const auto perm = automorphism_permutation(N, g);
    const SwitchingKey& gkey = f.gk.keys.at(g);
    SwitchingKey seeded = gkey;  // a_j regenerated from the seed inside the switch
    drop_uniform_halves(seeded);
    for (std::size_t level : {P.max_level(), std::size_t{2}, std::size_t{0}}) {
        CAPTURE(level);
        const Ciphertext c = f.encrypt(rnd(n, 20 + level), level);
        const Decomposition dec = decompose(P, c.parts[1], level);
        const std::size_t total = level + 1 + P.p_count();
        for (const SwitchingKey* key : std::vector<const SwitchingKey*>{&f.rk.key, &gkey, &seeded})
            for (const std::vector<std::uint32_t>* pm : {static_cast<const std::vector<std::uint32_t>*>(nullptr), &perm}) {
                Poly a0, a1, b0, b1;
                inner_product(P, dec, *key, a0, a1, pm);
                switch_key_fused(P, c.parts[1], level, *key, b0, b1, pm);
                CHECK(a0.limbs == b0.limbs);
                CHECK(a0.data == b0.data);
                CHECK(a1.data == b1.data);
                // Reference: sum over digits of digit·b_j and digit·a_j, whole limbs, by the
                // scalar reference kernel.
                REQUIRE(a0.limbs == total);
                std::size_t bad = 0;
                std::vector<u64> r0(N), r1(N), d(N), abuf(N);
                for (std::size_t i = 0; i < total; ++i) {
                    const std::size_t ri = rns_index(P, level, i);
                    std::fill(r0.begin(), r0.end(), 0);
                    std::fill(r1.begin(), r1.end(), 0);
                    for (std::size_t j = 0; j < dec.digits.size(); ++j) {
                        const u64* dj = dec.digits[j].limb(i);
                        for (std::size_t t = 0; t < N; ++t) d[t] = pm ? dj[(*pm)[t]] : dj[t];
                        eltwise_ref(EltOp::MulAcc, r0.data(), d.data(), key->b_limb(P, j, ri), 0, N, P.modulus(ri));
                        eltwise_ref(EltOp::MulAcc, r1.data(), d.data(), key->a_limb(P, j, ri, abuf.data()), 0, N,
                                    P.modulus(ri));
                    }
                    bad += static_cast<std::size_t>(!std::equal(r0.begin(), r0.end(), a0.limb(i))) +
                           static_cast<std::size_t>(!std::equal(r1.begin(), r1.end(), a1.limb(i)));
                }
                CHECK(bad == 0);
            }
    }
}

TEST_CASE("scheme: ModDown limb by limb gives the words of the whole-polynomial reference (and adds in place)") {
    Fixture& f = fx();
    const Params& P = *f.P;
    const std::size_t n = P.max_slots(), N = P.N();
    for (std::size_t level : {P.max_level(), std::size_t{1}}) {
        const Ciphertext c = f.encrypt(rnd(n, 40 + level), level);
        Poly acc, acc1;
        switch_key_fused(P, c.parts[1], level, f.rk.key, acc, acc1);
        // Reference: the P limbs to coefficients, one centred conversion of the whole
        // polynomial, then (x - conv)·P^{-1} per limb.
        const KeySwitchLevel& T = P.keyswitch_level(level);
        const std::size_t k = P.p_count();
        Poly xp(N, k, false);
        for (std::size_t i = 0; i < k; ++i) {
            std::copy(acc.limb(level + 1 + i), acc.limb(level + 1 + i) + N, xp.limb(i));
            ntt_inverse(xp.limb(i), P.ntt(P.q_count() + i));
        }
        Poly conv(N, level + 1, false);
        T.p_to_q->convert_centered(xp.data.data(), conv.data.data(), N);
        Poly want(N, level + 1, true);
        for (std::size_t i = 0; i <= level; ++i) {
            ntt_forward(conv.limb(i), P.ntt(i));
            eltwise_sub_mod(want.limb(i), acc.limb(i), conv.limb(i), N, P.modulus(i));
            eltwise_mul_scalar_mod(want.limb(i), want.limb(i), T.p_inv[i], N, P.modulus(i));
        }
        Poly target = c.parts[0], sum(N, level + 1, true);
        for (std::size_t i = 0; i <= level; ++i)
            eltwise_add_mod(sum.limb(i), target.limb(i), want.limb(i), N, P.modulus(i));
        Poly scratch = acc;
        mod_down(P, scratch, level, &target);
        CHECK(target.data == sum.data);
        mod_down(P, acc, level);
        CHECK(acc.limbs == level + 1);
        CHECK(acc.data == want.data);
    }
}

TEST_CASE("scheme: multiply + relinearize + rescale at every level, scales stay nominal") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots();
    const auto x = rnd(n, 4), y = rnd(n, 5);
    std::vector<cplx> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] * y[i];
    for (std::size_t level = 1; level <= f.P->max_level(); ++level) {
        const Ciphertext r = f.ev.multiply_relin_rescale(f.encrypt(x, level), f.encrypt(y, level));
        CHECK(r.level == level - 1);
        CHECK(r.size() == 2);
        CHECK(std::fabs(r.scale / f.P->nominal_scale(level - 1) - 1) < 1e-12);
        const Bits b = precision(f.decrypt(r), want);
        report("multiply+relin+rescale from level " + std::to_string(level), b);
        CHECK(b.max_bits > 25);  // the bar: >= ~25 bits at a 40-bit scale
        CHECK(b.mean_bits > 28);
    }
    // Without relinearization, the 3-part ciphertext decrypts too (at scale Δ²).
    const Ciphertext t = f.ev.multiply(f.encrypt(x, 2), f.encrypt(y, 2));
    CHECK(t.size() == 3);
    CHECK(precision(f.decrypt(t), want).max_bits > 25);
}

TEST_CASE("scheme: tensor_sum equals the products added one by one, word for word") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots();
    for (std::size_t level : {std::size_t{1}, f.P->max_level()}) {
        std::vector<Ciphertext> a, b;
        std::vector<cplx> want(n, cplx(0, 0));
        for (std::uint64_t t = 0; t < 5; ++t) {
            const auto x = rnd(n, 40 + t), y = rnd(n, 50 + t);
            a.push_back(f.encrypt(x, level));
            b.push_back(f.encrypt(y, level));
            for (std::size_t i = 0; i < n; ++i) want[i] += x[i] * y[i];
        }
        std::vector<std::pair<const Ciphertext*, const Ciphertext*>> terms;
        Ciphertext ref = f.ev.multiply(a[0], b[0]);
        terms.emplace_back(&a[0], &b[0]);
        for (std::size_t t = 1; t < a.size(); ++t) {
            f.ev.add_inplace(ref, f.ev.multiply(a[t], b[t]));
            terms.emplace_back(&a[t], &b[t]);
        }
        const Ciphertext got = f.ev.tensor_sum(terms);
        REQUIRE(got.size() == 3);
        CHECK(got.level == level);
        CHECK(got.scale == ref.scale);
        for (std::size_t p = 0; p < 3; ++p) CHECK(got.parts[p].data == ref.parts[p].data);
        Ciphertext r = got;
        f.ev.relinearize_inplace(r);
        f.ev.rescale_inplace(r);
        const Bits bits = precision(f.decrypt(r), want);
        report("sum of 5 tensor products at level " + std::to_string(level), bits);
        CHECK(bits.max_bits > 22);
    }
    // Refused: nothing to sum, operands at two levels, products at two scales, a 3-part operand.
    const auto x = rnd(n, 60);
    const Ciphertext c2 = f.encrypt(x, 2), c3 = f.encrypt(x, 3);
    Ciphertext scaled = c2;
    f.ev.mul_int_inplace(scaled, 1);
    scaled.scale *= 2;
    const Ciphertext three = f.ev.multiply(c2, c2);
    CHECK_THROWS_WITH_AS(f.ev.tensor_sum({}), doctest::Contains("no products"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.ev.tensor_sum({{&c2, &c2}, {&c3, &c3}}), doctest::Contains("levels 2 and 3"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.ev.tensor_sum({{&c2, &c2}, {&scaled, &c2}}), doctest::Contains("scales differ"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.ev.tensor_sum({{&three, &c2}}), doctest::Contains("2 parts"), std::invalid_argument);
}

TEST_CASE("scheme: a chain of squarings uses every level") {
    Fixture& f = fx();
    const std::size_t n = 64, L = f.P->max_level();
    std::vector<cplx> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = cplx(0.9 + 0.1 * std::cos(static_cast<double>(i)), 0);
    Ciphertext c = f.encryptor.encrypt(f.enc.encode(x, L, 0, n));
    std::vector<cplx> want = x;
    for (std::size_t l = L; l >= 1; --l) {
        c = f.ev.multiply_relin_rescale(c, c);
        for (auto& v : want) v *= v;
    }
    CHECK(c.level == 0);
    const Bits b = precision(f.decrypt(c), want);
    report("x^(2^L) by L squarings", b);
    CHECK(b.max_bits > 20);
    CHECK_THROWS_WITH_AS(f.ev.rescale_inplace(c), doctest::Contains("level 0"), std::invalid_argument);
}

TEST_CASE("scheme: operands at different levels are aligned automatically") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots(), L = f.P->max_level();
    const auto x = rnd(n, 6), y = rnd(n, 7);
    Ciphertext low = f.ev.multiply_relin_rescale(f.encrypt(x, L), f.encrypt(y, L));  // level L-1, x·y
    low = f.ev.multiply_relin_rescale(low, f.encrypt(y, L - 1));                       // level L-2, x·y²
    const Ciphertext high = f.encrypt(x, L);
    std::vector<cplx> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] * y[i] * y[i] + x[i];
    const Ciphertext s = f.ev.add(low, high);
    CHECK(s.level == L - 2);
    CHECK(precision(f.decrypt(s), want).max_bits > 24);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] * y[i] * y[i] * x[i];
    const Ciphertext m = f.ev.multiply_relin_rescale(high, low);
    CHECK(m.level == L - 3);
    CHECK(precision(f.decrypt(m), want).max_bits > 24);
}

TEST_CASE("scheme: rotations are slot permutations; hoisted equals one-by-one; conjugation") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots(), L = f.P->max_level();
    const auto x = rnd(n, 8);
    const Ciphertext c = f.encrypt(x, L);
    const auto hoisted = f.ev.rotate_hoisted(c, f.steps);
    for (std::size_t k = 0; k < f.steps.size(); ++k) {
        const long s = f.steps[k];
        std::vector<cplx> want(n);
        for (std::size_t i = 0; i < n; ++i)
            want[i] = x[(i + static_cast<std::size_t>(s + static_cast<long>(n))) % n];
        const auto one = f.decrypt(f.ev.apply_galois(c, f.enc.galois_element(s)));
        const auto hz = f.decrypt(hoisted[k]);
        const Bits b = precision(hz, want);
        CAPTURE(s);
        CHECK(b.max_bits > 24);
        // Hoisted and one-by-one rotations agree to within the key-switching noise.
        CHECK(precision(hz, one).max_bits > 25);
    }
    report("rotation by 1 (hoisted)", precision(f.decrypt(hoisted[0]), [&] {
               std::vector<cplx> w(n);
               for (std::size_t i = 0; i < n; ++i) w[i] = x[(i + 1) % n];
               return w;
           }()));
    std::vector<cplx> conj(n);
    for (std::size_t i = 0; i < n; ++i) conj[i] = std::conj(x[i]);
    CHECK(precision(f.decrypt(f.ev.conjugate(c)), conj).max_bits > 24);
    // Rotate-and-sum over a window of 8: slot i holds x_i + … + x_(i+7).
    const Ciphertext rs = f.ev.rotate_and_sum(c, 8);
    std::vector<cplx> want(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < 8; ++j) want[i] += x[(i + j) % n];
    CHECK(precision(f.decrypt(rs), want).max_bits > 22);
}

TEST_CASE("scheme: sparse slots encrypt, multiply and rotate within the slot count") {
    Fixture& f = fx();
    const std::size_t n = 128, L = f.P->max_level();
    const auto x = rnd(n, 9);
    const Ciphertext c = f.encryptor.encrypt(f.enc.encode(x, L, 0, n));
    const Ciphertext r = f.ev.rotate(c, 3);
    std::vector<cplx> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[(i + 3) % n];
    CHECK(precision(f.decrypt(r), want).max_bits > 24);
    // Steps are taken modulo the slot count: 3 - 128 is the same rotation and key.
    CHECK(precision(f.decrypt(f.ev.rotate(c, 3 - 128)), want).max_bits > 24);
    CHECK_THROWS_WITH_AS(f.ev.rotate(c, 6), doctest::Contains("no key for rotation step 6"), std::invalid_argument);
}

// Relinearization of a product of two encryptions of 0 at scale 1: what decrypts is the
// noise itself, in coefficient units (the largest, exact CRT).
double relin_noise(const Params& P, Encryptor& encryptor, const Decryptor& dec, const Evaluator& ev, std::size_t level) {
    Ciphertext z0 = encryptor.encrypt_zero(level, 1, 0), z1 = encryptor.encrypt_zero(level, 1, 0);
    Ciphertext t = ev.multiply(z0, z1);
    const Plaintext before = dec.decrypt(t);
    ev.relinearize_inplace(t);
    const Plaintext after = dec.decrypt(t);
    Poly diff = after.poly;
    poly_sub(P, level, diff, after.poly, before.poly, level + 1);
    from_ntt(P, diff, level);
    double mx = 0;
    std::vector<u64> res(level + 1);
    for (std::size_t k = 0; k < P.N(); ++k) {
        for (std::size_t l = 0; l <= level; ++l) res[l] = diff.limb(l)[k];
        mx = std::max(mx, static_cast<double>(std::fabs(P.basis_q(level).compose_centered(res.data()))));
    }
    return mx;
}

TEST_CASE("scheme: key-switching noise is small at every level") {
    Fixture& f = fx();
    // The hybrid bound is about sqrt(dnum·α)·q_max·σ·sqrt(N)/P + k: far below 2^20 for
    // these parameters.
    const Params& P = *f.P;
    for (std::size_t level = 1; level <= P.max_level(); ++level) {
        const double mx = relin_noise(P, f.encryptor, f.dec, f.ev, level);
        CAPTURE(level);
        MESSAGE("key-switching noise at level " << level << ": 2^" << std::log2(mx + 1));
        CHECK(mx < std::ldexp(1.0, 20));
    }
}

TEST_CASE("params: key-switching digits as wide as keep each digit's modulus below P; the same noise") {
    // The secure preset's chain (q_0 50 bits, 18 × 40, 11 × 60; P = 5 × 61 bits): digits of
    // 7, 7, 6, 5, 5 primes instead of six of 5. N12_test_boot has the same chain at N = 2^12.
    const auto digits = [](const Params& P) {
        std::vector<std::size_t> d;
        for (std::size_t j = 0; j < P.dnum(); ++j) d.push_back(P.digit_limbs(j));
        return d;
    };
    const std::vector<std::size_t> wide{7, 7, 6, 5, 5}, classic{5, 5, 5, 5, 5, 5};
    CHECK(digits(*preset("N16_QP1735_T_enc")) == wide);
    ParamsLiteral lw = preset_literal("N12_test_boot"), lc = lw;
    lc.digits_by_bits = false;
    const ParamsPtr Pw = Params::create(lw), Pc = Params::create(lc);
    CHECK(digits(*Pw) == wide);
    CHECK(digits(*Pc) == classic);
    CHECK(Pw->fingerprint() != Pc->fingerprint());  // keys of one do not fit the other
    // SEAL's comparison preset keeps SEAL's split; N12_test's chain allows no wider digit.
    CHECK(digits(*preset("N16_QP1530_T_seal")) == std::vector<std::size_t>{7, 7, 7, 1});
    CHECK(digits(*preset("N12_test")) == std::vector<std::size_t>{2, 2, 2, 1});
    // Every widened digit's modulus 2^8 below P (exact products), at least |P| primes but at the top,
    // and the digits of a level are those of its primes (a prefix of the top level's).
    for (const ParamsPtr& P : {Pw, preset("N16_QP1735_T_enc")}) {
        std::size_t next = 0;
        for (std::size_t j = 0; j < P->dnum(); ++j) {
            CHECK(P->digit_start(j) == next);
            std::vector<u64> primes(P->q().begin() + static_cast<long>(next),
                                    P->q().begin() + static_cast<long>(next + P->digit_limbs(j)));
            bt::BigUInt Qj = RNSBasis(primes).product();
            if (P->digit_limbs(j) > P->p_count())  // widened: 2^8 below P
                CHECK(Qj.mul_word(u64{1} << 8) < P->basis_p().product());
            if (j + 1 < P->dnum()) CHECK(P->digit_limbs(j) >= P->p_count());
            for (std::size_t i = next; i < next + P->digit_limbs(j); ++i) CHECK(P->digit_of(i) == j);
            next += P->digit_limbs(j);
        }
        CHECK(next == P->q_count());
        for (std::size_t l = 0; l <= P->max_level(); ++l) CHECK(P->digits_at(l) == P->digit_of(l) + 1);
    }
    // Key switching at both splits: the wide digits' noise stays at the rounding's order.
    for (const ParamsPtr& P : {Pw, Pc}) {
        KeyGenerator kg{P, test_seed(41)};
        const SecretKey sk = kg.secret_key();
        const RelinKey rk = kg.relin_key(sk);
        const PublicKey pk = kg.public_key(sk);
        Encryptor encryptor{P, pk, test_seed(42)};
        const Decryptor dec{P, sk};
        const Evaluator ev{P, &rk, nullptr};
        for (std::size_t level : {std::size_t{3}, std::size_t{10}, std::size_t{11}, std::size_t{15}, P->max_level()}) {
            const double mx = relin_noise(*P, encryptor, dec, ev, level);
            CAPTURE(level);
            MESSAGE(std::string(P == Pw ? "wide" : "classic") << " digits (" << P->digits_at(level) << " at level " << level
                                                     << "): key-switching noise 2^" << std::log2(mx + 1));
            CHECK(mx < std::ldexp(1.0, 12));
        }
    }
}

TEST_CASE("scheme: NTT-domain rescale equals exact rounding division (coefficient reference)") {
    Fixture& f = fx();
    const Params& P = *f.P;
    const std::size_t level = 3;
    const Ciphertext c = f.encrypt(rnd(P.max_slots(), 10), level);
    const Ciphertext r = f.ev.rescale(c);
    for (std::size_t part = 0; part < 2; ++part) {
        Poly coeff = c.parts[part];
        from_ntt(P, coeff, level);
        divide_round_by_last(coeff.data.data(), P.N(), P.basis_q(level));
        coeff.truncate(level);
        to_ntt(P, coeff, level - 1);
        CHECK(coeff.data == r.parts[part].data);
    }
}

TEST_CASE("scheme: mismatches are refused with messages that say what was expected") {
    Fixture& f = fx();
    const std::size_t n = f.P->max_slots(), L = f.P->max_level();
    const Ciphertext a = f.encrypt(rnd(n, 11), L);
    Ciphertext big = a;
    f.ev.mul_const_inplace(big, 1.0);  // scale Δ², same level
    CHECK_THROWS_WITH_AS(f.ev.add(a, big), doctest::Contains("scales differ"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.ev.add_plain_inplace(big, f.enc.encode(rnd(n, 1), L - 1)),
                         doctest::Contains("encode the plaintext at the ciphertext's level"), std::invalid_argument);
    Evaluator bare(f.P);
    Ciphertext sq = f.ev.multiply(a, a);
    CHECK_THROWS_WITH_AS(bare.relinearize_inplace(sq), doctest::Contains("no relinearization key"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.ev.rotate(a, 7), doctest::Contains("the key set has 1 2 3"), std::invalid_argument);
    Ciphertext copy = a;
    CHECK_THROWS_WITH_AS(f.ev.drop_to_level_inplace(copy, L + 1), doctest::Contains("above"), std::invalid_argument);
    // A ciphertext from other parameters.
    auto other = preset("N10_test");
    Encoder e2(other);
    KeyGenerator kg2(other, test_seed(9));
    SecretKey sk2 = kg2.secret_key();
    Encryptor enc2(other, sk2, test_seed(8));
    const Ciphertext foreign = enc2.encrypt(e2.encode(std::vector<double>{1.0}, 1));
    CHECK_THROWS_WITH_AS(f.ev.add(a, foreign), doctest::Contains("other CKKS parameters"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(f.dec.decrypt(foreign), doctest::Contains("other CKKS parameters"), std::invalid_argument);
}

TEST_CASE("params: the 128-bit bound is enforced with a message; opt-in warns") {
    ParamsLiteral lit = preset_literal("N12_test");
    lit.insecure = false;
    CHECK_THROWS_WITH_AS(Params::create(lit), doctest::Contains("exceeds the HomomorphicEncryption.org 128-bit bound 109"),
                         std::invalid_argument);
    ParamsLiteral ok;
    ok.log_n = 13;
    ok.log_q = {50, 35, 35, 35};
    ok.log_p = {60};
    ok.log_scale = 35;
    auto P = Params::create(ok);
    CHECK(P->secure());
    CHECK(P->log_qp() <= 218);
    ok.log_p = {60, 60};  // 275 bits > 218
    CHECK_THROWS_WITH_AS(Params::create(ok), doctest::Contains("by 5"), std::invalid_argument);
    ok.log_p = {60};
    ok.secret = SecretDist::SparseTernary;
    ok.hamming_weight = 64;
    CHECK_THROWS_WITH_AS(Params::create(ok), doctest::Contains("sparse secret"), std::invalid_argument);
    for (const auto& info : list_presets()) {
        auto p = preset(info.name);
        // Names carry the rounded log2 QP.
        if (info.name.find("_QP") != std::string::npos)
            CHECK(info.name.find("QP" + std::to_string(static_cast<int>(std::lround(p->log_qp())))) != std::string::npos);
        // Insecure presets opt in explicitly and say so in their description.
        CHECK(p->secure() == !preset_literal(info.name).insecure);
        if (!p->secure()) CHECK(info.purpose.find("INSECURE") != std::string::npos);
    }
}

}  // TEST_SUITE

TEST_SUITE("ckks") {

TEST_CASE("scheme: level-limited keys work at their levels, are smaller, and refuse higher levels") {
    Fixture& f = fx();
    const Params& P = *f.P;
    const GaloisKeys low = f.kg.galois_keys(f.sk, f.kg.galois_elements_for_steps({1}), 2);
    const RelinKey rlow = f.kg.relin_key(f.sk, 2);
    CHECK(low.keys.begin()->second.max_level == 2);
    CHECK(low.size_bytes() * 2 < f.gk.keys.begin()->second.size_bytes());
    const Evaluator ev(f.P, &rlow, &low);
    const std::size_t n = P.max_slots();
    const auto x = rnd(n, 12);
    std::vector<cplx> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[(i + 1) % n];
    CHECK(precision(f.decrypt(ev.rotate(f.encrypt(x, 2), 1)), want).max_bits > 24);
    CHECK(precision(f.decrypt(ev.rotate(f.encrypt(x, 1), 1)), want).max_bits > 24);
    for (std::size_t i = 0; i < n; ++i) want[i] = x[i] * x[i];
    CHECK(precision(f.decrypt(ev.multiply_relin_rescale(f.encrypt(x, 2), f.encrypt(x, 2))), want).max_bits > 24);
    CHECK_THROWS_WITH_AS(ev.rotate(f.encrypt(x, 3), 1), doctest::Contains("generated for levels up to 2"),
                         std::invalid_argument);
}

}  // TEST_SUITE
