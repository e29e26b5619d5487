// Tests for src/ckks/polyeval.cpp.
//
// Float64 side: interpolation error against the function on a 10,000-point grid for
// exp, a sigmoid, 1/x, cos and sin (symmetric and asymmetric intervals, degrees 7 … 255),
// bounded by the Chebyshev interpolation theorem where the derivatives are known;
// parity detection; the float64 twin (the BSGS engine run on doubles) against Clenshaw
// for every degree 1 … 255 and every baby-step size, which checks the split and the
// recurrences independently of CKKS; the depth of every plan.
// Homomorphic side (N = 2^11, 12 levels of 40 bits, insecure test ring): the result
// against the function and against the twin, precision in bits printed; levels
// consumed equal to the reported depth; output scale equal to the target.
#include "doctest/doctest.h"

#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"
#include "bt/ckks/polyeval.hpp"

#include <cmath>
#include <random>

using namespace bt;
using namespace bt::ckks;

namespace {

constexpr double kPi = 3.14159265358979323846;

Seed test_seed(std::uint8_t v) {
    Seed s{};
    s.fill(v);
    return s;
}

// Chebyshev interpolation theorem: |f - p_d| <= (h^(d+1) / (2^d (d+1)!)) · max|f^(d+1)|,
// h = (b - a)/2. `deriv_max` is max|f^(d+1)| on [a, b].
double interpolation_bound(double a, double b, int d, double deriv_max) {
    const double h = (b - a) / 2;
    double t = deriv_max;
    for (int k = 1; k <= d + 1; ++k) t *= h / k;
    return t / std::pow(2.0, d);
}

// Float64 rounding of Clenshaw's recurrence: O(d · 2^-52 · Σ|c_k|); twice that.
double clenshaw_rounding(const ChebyshevPoly& p) {
    double l1 = 0;
    for (double c : p.coeffs) l1 += std::fabs(c);
    return 2 * (p.degree() + 1) * std::ldexp(1.0, -52) * (1 + l1);
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// EvalMod's scaled cosine (Han–Ki 2020): cos(2π(x - 1/4)/2^r) on [-K, K]; r = 2, K = 12.
double evalmod_cos(double x) { return std::cos(2 * kPi * (x - 0.25) / 4); }
double sin2pi(double x) { return std::sin(2 * kPi * x) / (2 * kPi); }

// The N = 2^11 test ring: q_0 of 60 bits, 12 levels of 40 bits, two 60-bit special
// primes, scale 2^40. Insecure (660 bits of QP at N = 2^11): tests only.
struct Ring {
    ParamsPtr P;
    KeyGenerator kg;
    SecretKey sk;
    PublicKey pk;
    RelinKey rk;
    Encoder enc;
    Encryptor encryptor;
    Decryptor dec;
    Evaluator ev;

    static ParamsPtr make() {
        ParamsLiteral lit;
        lit.log_n = 11;
        lit.log_q = {60, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40};
        lit.log_p = {60, 60};
        lit.log_scale = 40;
        lit.insecure = true;
        lit.name = "polyeval_test";
        return Params::create(lit);
    }
    Ring()
        : P(make()), kg(P, test_seed(41)), sk(kg.secret_key()), pk(kg.public_key(sk)), rk(kg.relin_key(sk)), enc(P),
          encryptor(P, pk, test_seed(42)), dec(P, sk), ev(P, &rk) {}

    Ciphertext encrypt(const std::vector<double>& x, std::size_t level) { return encryptor.encrypt(enc.encode(x, level)); }
    std::vector<double> decrypt(const Ciphertext& c) {
        const auto z = enc.decode(dec.decrypt(c));
        std::vector<double> r(z.size());
        for (std::size_t i = 0; i < z.size(); ++i) r[i] = z[i].real();
        return r;
    }
};

Ring& ring() {
    static Ring r;
    return r;
}

std::vector<double> uniform(std::size_t n, double a, double b, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(a, b);
    std::vector<double> x(n);
    for (auto& v : x) v = u(rng);
    x[0] = a;  // both ends of the interval are in every test
    x[1] = b;
    return x;
}

double max_abs_diff(const std::vector<double>& u, const std::vector<double>& v) {
    double e = 0;
    for (std::size_t i = 0; i < u.size(); ++i) e = std::max(e, std::fabs(u[i] - v[i]));
    return e;
}

// -log2 of the mean absolute difference.
double mean_bits(const std::vector<double>& u, const std::vector<double>& v) {
    double s = 0;
    for (std::size_t i = 0; i < u.size(); ++i) s += std::fabs(u[i] - v[i]);
    return -std::log2(s / static_cast<double>(u.size()));
}

// Sensitivity of p to noise in y = α·x + β, in y units: Σ_j j²·|c_j| bounds |p'(y)| on
// [-1, 1] (Markov: |T_j'| <= j²). Used to size tolerances before measuring anything.
double sensitivity(const ChebyshevPoly& p) {
    double s = 0;
    for (std::size_t j = 1; j < p.coeffs.size(); ++j) s += static_cast<double>(j * j) * std::fabs(p.coeffs[j]);
    return s;
}

struct HeCase {
    const char* name;
    double (*f)(double);
    double a, b;
    int degree;
};

}  // namespace

TEST_SUITE("ckks") {

// ================================================================ float64

TEST_CASE("polyeval: Chebyshev interpolation error within the interpolation theorem (exp, sin, cos)") {
    for (int d : {7, 15, 31, 63, 127, 255}) {
        // exp on [-8, 0]: every derivative is at most 1.
        const ChebyshevPoly pe = chebyshev_interpolate([](double x) { return std::exp(x); }, -8, 0, d);
        const double ee = chebyshev_max_error(pe, [](double x) { return std::exp(x); });
        const double be = interpolation_bound(-8, 0, d, 1.0) + clenshaw_rounding(pe);
        MESSAGE("exp on [-8, 0], degree " << d << ": max error " << ee << " (2^" << std::log2(ee) << "), bound " << be);
        CHECK(pe.degree() == d);
        CHECK(pe.parity == Parity::None);
        CHECK(ee <= be);
        // sin(2πx)/(2π) on [-2, 2]: |f^(k)| <= (2π)^(k-1); odd.
        const ChebyshevPoly ps = chebyshev_interpolate(sin2pi, -2, 2, d);
        const double es = chebyshev_max_error(ps, sin2pi);
        const double bs = interpolation_bound(-2, 2, d, std::pow(2 * kPi, d)) + clenshaw_rounding(ps);
        MESSAGE("sin(2πx)/(2π) on [-2, 2], degree " << d << ": max error " << es << ", bound " << bs);
        CHECK(ps.parity == Parity::Odd);
        CHECK(es <= bs);
        // EvalMod's cosine on [-12, 12] (asymmetric in parity through the shift): |f^(k)| <= (2π/4)^k.
        const ChebyshevPoly pc = chebyshev_interpolate(evalmod_cos, -12, 12, d);
        const double ec = chebyshev_max_error(pc, evalmod_cos);
        const double bc = interpolation_bound(-12, 12, d, std::pow(2 * kPi / 4, d + 1)) + clenshaw_rounding(pc);
        MESSAGE("cos(2π(x-1/4)/4) on [-12, 12], degree " << d << ": max error " << ec << ", bound " << bc);
        CHECK(ec <= bc);
    }
    // The theorem makes these small enough for their uses.
    CHECK(chebyshev_max_error(chebyshev_interpolate(evalmod_cos, -12, 12, 63), evalmod_cos) < 1e-12);
    CHECK(chebyshev_max_error(chebyshev_interpolate([](double x) { return std::exp(x); }, -8, 0, 15),
                              [](double x) { return std::exp(x); }) < 1e-8);
}

TEST_CASE("polyeval: interpolation of a sigmoid and 1/x (asymmetric), parity, nodes") {
    const auto inv = [](double x) { return 1 / x; };
    double prev_s = 1, prev_i = 1;
    for (int d : {7, 15, 31, 63, 127, 255}) {
        const ChebyshevPoly ps = chebyshev_interpolate(sigmoid, -8, 8, d);
        const double es = chebyshev_max_error(ps, sigmoid);
        const ChebyshevPoly pi = chebyshev_interpolate(inv, 1, 100, d);
        const double ei = chebyshev_max_error(pi, inv);
        MESSAGE("sigmoid on [-8, 8], degree " << d << ": " << es << "; 1/x on [1, 100]: " << ei);
        // Both are analytic in a Bernstein ellipse: the error must fall geometrically
        // (down to rounding). 1/x has its pole at y = -101/99: ρ = 1.222, so the error
        // falls at least ρ^(Δd)/2 between these degrees while above 1e-13.
        if (ei > 1e-13) CHECK(ei < prev_i * std::pow(1.222, -(d + 1) / 2.0) * 2);
        if (es > 1e-13) CHECK(es < prev_s);
        CHECK(es < 0.05);
        prev_s = es;
        prev_i = ei;
    }
    CHECK(prev_s < 1e-13);
    CHECK(prev_i < 1e-13);

    // The interpolant matches f at the d+1 Chebyshev nodes (to rounding).
    const ChebyshevPoly p = chebyshev_interpolate(sigmoid, -3, 5, 20);
    for (int i = 0; i <= 20; ++i) {
        const double x = 1 + 4 * std::cos(kPi * (i + 0.5) / 21);
        CHECK(p.eval(x) == doctest::Approx(sigmoid(x)).epsilon(1e-13));
    }
    // Parity: detected on symmetric intervals only; declared parity zeroes coefficients.
    CHECK(chebyshev_interpolate([](double x) { return std::cos(x); }, -5, 5, 30).parity == Parity::Even);
    CHECK(chebyshev_interpolate([](double x) { return std::tanh(x); }, -5, 5, 31).parity == Parity::Odd);
    CHECK(chebyshev_interpolate([](double x) { return std::cos(x); }, -5, 4, 30).parity == Parity::None);
    const ChebyshevPoly pe = chebyshev_interpolate(sigmoid, -4, 4, 31, Parity::Odd);
    CHECK(pe.parity == Parity::Odd);
    for (int k = 0; k <= 31; k += 2) CHECK(pe.coeffs[static_cast<std::size_t>(k)] == 0);
    CHECK(detect_parity({0, 1, 0, -2}) == Parity::Odd);
    CHECK(detect_parity({1, 0, 3}) == Parity::Even);
    CHECK(detect_parity({1, 1e-3, 3}) == Parity::None);
    // Clenshaw in complex arithmetic agrees with the real one on the real line.
    CHECK(std::abs(p.eval(cplx(0.7, 0)) - p.eval(0.7)) < 1e-15);
    CHECK_THROWS_AS(chebyshev_interpolate(sigmoid, 1, 1, 5), std::invalid_argument);
    CHECK_THROWS_AS(chebyshev_interpolate(sigmoid, -1, 1, 0), std::invalid_argument);
}

TEST_CASE("polyeval: the float64 twin equals Clenshaw for every degree 1 … 255 and baby-step size") {
    // The twin runs the BSGS engine (splits, recurrences, leaves) on doubles: agreement
    // with Clenshaw to rounding proves the algebra of the split for every shape.
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> x(64);
    for (auto& v : x) v = u(rng);
    x[0] = -1;
    x[1] = 1;
    double worst = 0;
    for (int d = 1; d <= 255; ++d) {
        for (Parity par : {Parity::None, Parity::Odd, Parity::Even}) {
            if (par == Parity::Even && d % 2) continue;
            if (par == Parity::Odd && d % 2 == 0) continue;
            ChebyshevPoly p;
            p.a = -2;
            p.b = 6;  // asymmetric: y = x/4 - 1/2
            p.parity = par;
            p.coeffs.resize(static_cast<std::size_t>(d) + 1);
            for (std::size_t k = 0; k < p.coeffs.size(); ++k)
                p.coeffs[k] = (par == Parity::Odd && k % 2 == 0) || (par == Parity::Even && k % 2) ? 0 : u(rng) / (1 + 0.05 * static_cast<double>(k));
            double l1 = 0;
            for (double c : p.coeffs) l1 += std::fabs(c);
            std::vector<double> xs(x.size());
            for (std::size_t i = 0; i < x.size(); ++i) xs[i] = 2 + 4 * x[i];
            const int depth = chebyshev_depth(d);
            for (int l = 0; l <= depth; ++l) {
                PolyEvalOptions opt;
                opt.log_baby = l;
                const auto tw = evaluate_chebyshev_twin(p, xs, opt);
                double e = 0;
                for (std::size_t i = 0; i < xs.size(); ++i) e = std::max(e, std::fabs(tw[i] - p.eval(xs[i])));
                // Rounding of d-term sums of terms bounded by |c_j|: ~d·2^-52·Σ|c|.
                if (!(e <= 1e-13 * l1 * d)) {
                    FAIL("degree " << d << " parity " << parity_name(par) << " log_baby " << l << ": twin differs by " << e);
                }
                worst = std::max(worst, e / l1);
            }
        }
    }
    MESSAGE("twin vs Clenshaw, degrees 1 … 255, all baby-step sizes: worst difference " << worst << " · Σ|c|");
    // The scalar and complex twins agree.
    const ChebyshevPoly p = chebyshev_interpolate(sigmoid, -8, 8, 63);
    const auto zc = evaluate_chebyshev_twin(p, std::vector<cplx>{cplx(1.5, 0), cplx(-7, 0)});
    CHECK(std::abs(zc[0] - evaluate_chebyshev_twin(p, 1.5)) < 1e-14);
    CHECK(std::abs(zc[1].real() - sigmoid(-7)) < 1e-9);
}

TEST_CASE("polyeval: plans have depth ceil(log2(d+1)) for every degree, and few ct×ct products") {
    std::string table = "\n degree | depth | +affine | log_baby | ct×ct (general) | ct×ct (odd/even)";
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(0.5, 1);
    for (int d = 1; d <= 255; ++d) {
        ChebyshevPoly p;
        p.a = -8;
        p.b = 0;  // α = 1/4: one level for the change of variable
        p.coeffs.resize(static_cast<std::size_t>(d) + 1);
        for (double& c : p.coeffs) c = u(rng);
        const PolyEvalPlan g = plan_chebyshev(p, 20);
        int ceil_log = 0;
        while ((1 << ceil_log) < d + 1) ++ceil_log;
        CHECK(g.poly_depth == ceil_log);
        CHECK(g.affine_levels == (d == 1 ? 0 : 1));  // degree 1 folds the map into its constant
        CHECK(g.depth == ceil_log + g.affine_levels);
        CHECK(g.depth == polyeval_depth(p));
        CHECK(g.output_level == 20 - static_cast<std::size_t>(g.depth));
        // Baby-step giant-step: about 2·sqrt(d) + log d products, far fewer than d.
        CHECK(g.ct_mults <= 2 * static_cast<int>(std::ceil(std::sqrt(2.0 * d))) + 2 * ceil_log);
        // Parity: the other coefficients skipped.
        ChebyshevPoly q = p;
        q.parity = d % 2 ? Parity::Odd : Parity::Even;
        q.a = -1;
        q.b = 1;  // no change of variable
        const PolyEvalPlan s = plan_chebyshev(q, 20);
        CHECK(s.depth == ceil_log);
        CHECK(s.ct_mults <= g.ct_mults);
        if (d >= 2) CHECK(s.const_mults < g.const_mults);  // d = 1: only c_0 is skipped, a constant
        if (d == 7 || d == 15 || d == 31 || d == 63 || d == 127 || d == 255 || d == 30 || d == 100)
            table += "\n " + std::to_string(d) + " | " + std::to_string(g.poly_depth) + " | +1 | " +
                     std::to_string(g.log_baby) + " | " + std::to_string(g.ct_mults) + " | " + std::to_string(s.ct_mults);
    }
    MESSAGE(table);
    // The integer-α and [-1, 1] cases spend no level on the change of variable.
    ChebyshevPoly p;
    p.a = 0;
    p.b = 1;
    p.coeffs = {1, 2, 3};
    CHECK(affine_depth(p) == 0);
    CHECK(polyeval_depth(p) == 2);
    p.a = -1;
    CHECK(affine_depth(p) == 0);
    p.b = 3;
    CHECK(affine_depth(p) == 1);
    // Errors: level too low, a constant, an empty interval.
    CHECK_THROWS_WITH_AS(plan_chebyshev(p, 2), doctest::Contains("needs 3 levels"), std::invalid_argument);
    p.coeffs = {1, 0, 0};
    CHECK_THROWS_AS(plan_chebyshev(p, 9), std::invalid_argument);
    p.coeffs = {1, 1};
    p.b = -2;
    CHECK_THROWS_AS(plan_chebyshev(p, 9), std::invalid_argument);
}

// ================================================================ homomorphic

TEST_CASE("polyeval: homomorphic evaluation against the function and the float64 twin") {
    Ring& R = ring();
    const Evaluator& ev = R.ev;
    const std::size_t n = R.P->max_slots(), L = R.P->max_level();
    const HeCase cases[] = {
        {"exp on [-8, 0]", [](double x) { return std::exp(x); }, -8, 0, 7},
        {"exp on [-8, 0]", [](double x) { return std::exp(x); }, -8, 0, 15},
        {"exp on [-8, 0]", [](double x) { return std::exp(x); }, -8, 0, 31},
        {"sigmoid on [-8, 8]", sigmoid, -8, 8, 63},
        {"1/x on [1, 100]", [](double x) { return 1 / x; }, 1, 100, 127},
        {"1/x on [1, 100]", [](double x) { return 1 / x; }, 1, 100, 255},
        {"cos(2π(x-1/4)/4) on [-12, 12]", evalmod_cos, -12, 12, 63},
        {"sin(2πx)/(2π) on [-1, 1] (odd)", sin2pi, -1, 1, 31},
        {"log(1+x) on [0, 1] (α = 2, no level)", [](double x) { return std::log1p(x); }, 0, 1, 15},
        {"2x + 1 on [-3, 5] (degree 1, map folded)", [](double x) { return 2 * x + 1; }, -3, 5, 1},
        {"x² - x on [-0.5, 0.5] (degree 2, α = 2)", [](double x) { return x * x - x; }, -0.5, 0.5, 2},
    };
    std::uint64_t seed = 100;
    for (const HeCase& hc : cases) {
        const ChebyshevPoly p = chebyshev_interpolate(hc.f, hc.a, hc.b, hc.degree);
        const double interp = chebyshev_max_error(p, hc.f);
        const auto x = uniform(n, hc.a, hc.b, ++seed);
        const Ciphertext cx = R.encrypt(x, L);
        PolyEvalPlan plan;
        const Ciphertext cy = evaluate_chebyshev(ev, cx, p, {}, &plan);
        const auto got = R.decrypt(cy);

        // Levels and scale.
        CHECK(cx.level - cy.level == static_cast<std::size_t>(plan.depth));
        CHECK(plan.depth == polyeval_depth(p));
        CHECK(plan.poly_depth == chebyshev_depth(hc.degree));
        CHECK(cy.level == plan.output_level);
        CHECK(cy.scale == R.P->nominal_scale(cy.level));

        // Against the twin run on the decrypted input: only the evaluation's own noise
        // remains (rescale rounding, relinearization, constants rounded at ≈ 2^40).
        // One rescale of a 2^40-scaled value at N = 2^11 leaves ≈ N/sqrt(18)/2^40 ≈
        // 2^-31 per slot (std), ≈ 2^-29 at the maximum over the slots; a noise δ in a
        // power basis element reaches the result multiplied by at most the polynomial's
        // sensitivity Σ j²|c_j| (Markov). The bar is 2^-26 · (1 + sensitivity): 8× the
        // maximal rescale noise, as if one such rescale had full sensitivity.
        const auto xin = R.decrypt(cx);
        const auto tw = evaluate_chebyshev_twin(p, xin);
        const double sens = sensitivity(p);
        const double e_twin = max_abs_diff(got, tw);
        const double tol_twin = std::ldexp(1.0, -26) * (1 + sens);
        // Against f: interpolation error + the twin bar + the input's encryption noise
        // (≤ 2^-25, tests/ckks/scheme.cpp) times α · sensitivity.
        std::vector<double> fx(n);
        for (std::size_t i = 0; i < n; ++i) fx[i] = hc.f(x[i]);
        const double e_f = max_abs_diff(got, fx);
        const double tol_f = interp + tol_twin + std::ldexp(1.0, -25) * p.alpha() * sens;
        MESSAGE(std::string(hc.name) << ", degree " << hc.degree << ": " << plan.summary() << "\n  vs f: max "
                                     << -std::log2(e_f) << " bits, mean " << mean_bits(got, fx)
                                     << " (interpolation alone " << -std::log2(interp) << "); vs twin: max "
                                     << -std::log2(e_twin) << " bits, mean " << mean_bits(got, tw) << " (bar "
                                     << -std::log2(tol_twin) << ")");
        CHECK(e_twin <= tol_twin);
        CHECK(e_f <= tol_f);
    }
}

TEST_CASE("polyeval: explicit target scale, lower input level, forced baby-step size, odd specialization") {
    Ring& R = ring();
    const std::size_t n = R.P->max_slots();
    const ChebyshevPoly p = chebyshev_interpolate([](double x) { return std::tanh(x); }, -4, 4, 31);
    REQUIRE(p.parity == Parity::Odd);
    const auto x = uniform(n, -4, 4, 5);
    const Ciphertext cx = R.encrypt(x, 7);
    for (int l : {1, 3, 5}) {
        PolyEvalOptions opt;
        opt.log_baby = l;
        opt.target_scale = std::ldexp(1.0, 36) * 1.2345;
        PolyEvalPlan plan;
        const Ciphertext cy = evaluate_chebyshev(R.ev, cx, p, opt, &plan);
        CHECK(cy.level == 7 - 6);
        CHECK(plan.log_baby == l);
        CHECK(cy.scale == opt.target_scale);
        const auto got = R.decrypt(cy);
        const auto tw = evaluate_chebyshev_twin(p, R.decrypt(cx), opt);
        const double e = max_abs_diff(got, tw);
        MESSAGE("tanh on [-4, 4], degree 31 (odd), log_baby " << l << ", target 2^" << std::log2(opt.target_scale)
                                                              << ": " << plan.summary() << "; vs twin " << -std::log2(e)
                                                              << " bits");
        // A 2^36 target leaves 4 bits less than 2^40 for the last rescale's noise.
        CHECK(e <= std::ldexp(1.0, -22) * (1 + sensitivity(p)));
    }
    // Down to level 0, at its nominal scale.
    {
        const Ciphertext c6 = R.encrypt(x, 6);
        const Ciphertext cy = evaluate_chebyshev(R.ev, c6, p);
        CHECK(cy.level == 0);
        CHECK(cy.scale == R.P->nominal_scale(0));
        const double e = max_abs_diff(R.decrypt(cy), evaluate_chebyshev_twin(p, R.decrypt(c6)));
        MESSAGE("tanh, degree 31, level 6 -> 0: vs twin " << -std::log2(e) << " bits");
        CHECK(e <= std::ldexp(1.0, -26) * (1 + sensitivity(p)));
    }
    // An input far below the primes' size makes the powers' scales collapse: an error.
    {
        const ChebyshevPoly s2 = chebyshev_interpolate(sin2pi, -1, 1, 15);
        const Ciphertext tiny = R.encryptor.encrypt(R.enc.encode(x, 12, std::ldexp(1.0, 25)));
        CHECK_THROWS_WITH_AS(evaluate_chebyshev(R.ev, tiny, s2), doctest::Contains("reached scale 2^10"), std::invalid_argument);
        // … and far above them, a blow-up (2^60 → 2^80 → 2^120 …).
        const Ciphertext huge = R.encryptor.encrypt(R.enc.encode(x, 12, std::ldexp(1.0, 60)));
        CHECK_THROWS_WITH_AS(evaluate_chebyshev(R.ev, huge, s2), doctest::Contains("reached scale"), std::invalid_argument);
    }
    // The change of variable folded upstream (here: into the plaintext before encryption):
    // one level fewer, the same values.
    {
        std::vector<double> y(n);
        for (std::size_t i = 0; i < n; ++i) y[i] = p.alpha() * x[i] + p.beta();
        const ChebyshevPoly pu = p.on_unit_interval();
        CHECK(polyeval_depth(pu) == polyeval_depth(p) - 1);
        const Ciphertext cy = evaluate_chebyshev(R.ev, R.encrypt(y, 5), pu);
        CHECK(cy.level == 0);
        std::vector<double> fx(n);
        for (std::size_t i = 0; i < n; ++i) fx[i] = std::tanh(x[i]);
        const double e = max_abs_diff(R.decrypt(cy), fx);
        MESSAGE("tanh, degree 31, map folded upstream, level 5 -> 0: vs f " << -std::log2(e) << " bits");
        CHECK(e <= chebyshev_max_error(p, [](double t) { return std::tanh(t); }) +
                       std::ldexp(1.0, -24) * (1 + sensitivity(p)));
    }
    // Not enough levels: an error naming the need.
    const Ciphertext low = R.encrypt(x, 5);
    CHECK_THROWS_WITH_AS(evaluate_chebyshev(R.ev, low, p), doctest::Contains("needs 6 levels"), std::invalid_argument);
}

TEST_CASE("polyeval: complex slots follow the complex float64 twin") {
    // Chebyshev polynomials are polynomials: slot values off the real line are evaluated
    // as complex numbers (real inputs are the main case; this keeps complex ones honest).
    Ring& R = ring();
    const std::size_t n = R.P->max_slots();
    const ChebyshevPoly p = chebyshev_interpolate(sigmoid, -6, 2, 23);
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> ur(-6, 2), ui(-0.2, 0.2);
    std::vector<cplx> z(n);
    for (auto& v : z) v = cplx(ur(rng), ui(rng));
    const Ciphertext cz = R.encryptor.encrypt(R.enc.encode(z, R.P->max_level()));
    const Ciphertext cy = evaluate_chebyshev(R.ev, cz, p);
    const auto got = R.enc.decode(R.dec.decrypt(cy));
    const auto tw = evaluate_chebyshev_twin(p, R.enc.decode(R.dec.decrypt(cz)));
    double e = 0, e_clenshaw = 0;
    for (std::size_t i = 0; i < n; ++i) {
        e = std::max(e, std::abs(got[i] - tw[i]));
        e_clenshaw = std::max(e_clenshaw, std::abs(got[i] - p.eval(z[i])));
    }
    MESSAGE("sigmoid on [-6, 2], degree 23, complex slots (|Im| <= 0.2): vs complex twin " << -std::log2(e)
                                                                                         << " bits, vs Clenshaw " << -std::log2(e_clenshaw) << " bits");
    // Off the real line |T_j| grows (|y| + sqrt(|y²-1|))^j-like, so the sensitivity bar
    // of the real case is scaled by the largest |T_23| met, at most (1.05 + 0.32)^23 < 2^11.
    CHECK(e <= std::ldexp(1.0, -26 + 11) * (1 + sensitivity(p)));
    CHECK(e_clenshaw <= std::ldexp(1.0, -20 + 11) * (1 + sensitivity(p)));
}

}  // TEST_SUITE
