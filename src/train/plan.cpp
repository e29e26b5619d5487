// Encrypted training, the plan side (no ciphertexts here): the packing shape EncShape, the
// softmax polynomials SoftmaxPolys and their plaintext reference poly_softmax_row, the level
// plan LevelPlan of one step, and the bookkeeping the engine reports (stage names, OpCounts,
// RangeStats). Everything is derived from the ring size, the features, the classes, the
// batch and the softmax bound V before anything is encrypted; the backends and the engine
// live in backends.cpp and encrypted.cpp (see bt/train/encrypted.hpp for the layout and maths).
#include "bt/train/encrypted.hpp"

#include "bt/detmath.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace bt::train {

using ckks::ChebyshevPoly;

namespace {

std::size_t next_pow2(std::size_t x) {
    std::size_t p = 1;
    while (p < x) p <<= 1;
    return p;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// Max relative error of p as 1/x over [lo, hi] for an input map x -> u (dense grid).
template <class Map>
double rel_err_inverse(const ChebyshevPoly& p, double lo, double hi, Map to_u) {
    double worst = 0;
    const int n = 20000;
    for (int k = 0; k <= n; ++k) {
        const double x = lo + (hi - lo) * k / n;
        worst = std::max(worst, std::fabs(p.eval(to_u(x)) * x - 1));
    }
    return worst;
}

}  // namespace

// ================================================================ shape
EncShape EncShape::make(std::size_t slots, std::size_t d, int classes, std::size_t batch) {
    EncShape s;
    if (slots < 8 || (slots & (slots - 1)) != 0)
        throw std::invalid_argument("encrypted training: " + std::to_string(slots) + " slots is not a power of two >= 8");
    if (classes < 2) throw std::invalid_argument("encrypted training: need at least 2 classes, got " + std::to_string(classes));
    if (d < 1) throw std::invalid_argument("encrypted training: need at least one feature");
    // Everything below is compared with the slot count first, so no size arithmetic overflows.
    if (d >= slots || static_cast<std::size_t>(classes) > slots)
        throw std::invalid_argument("encrypted training: " + std::to_string(d) + " features and " +
                                    std::to_string(classes) + " classes cannot fit a ciphertext of " +
                                    std::to_string(slots) + " slots; use a larger ring or fewer features");
    s.slots = slots;
    s.d = d;
    s.cols = d + 1;
    s.c = classes;
    s.cpad = std::max<std::size_t>(2, next_pow2(static_cast<std::size_t>(classes)));
    // A row holds c' − 1 zero columns then the features and bias, and at least one
    // block's merged logits (2c' slots).
    s.s1 = std::max(next_pow2(s.cols + s.cpad - 1), 2 * s.cpad);
    if (s.s1 > slots)
        throw std::invalid_argument("encrypted training: a row of " + std::to_string(s.cols) + " features + bias and " +
                                    std::to_string(s.cpad - 1) + " offset columns needs " + std::to_string(s.s1) +
                                    " slots but a ciphertext has " + std::to_string(slots) +
                                    "; use a larger ring or fewer features");
    s.s0 = slots / s.s1;
    if (s.s0 < s.cpad)
        throw std::invalid_argument("encrypted training: a block has " + std::to_string(s.s0) + " rows but " +
                                    std::to_string(s.cpad) + " padded classes need at least as many rows; "
                                    "use a larger ring or fewer features");
    if (batch == 0) throw std::invalid_argument("encrypted training: batch size 0");
    s.blocks = batch / s.s0 + (batch % s.s0 != 0);  // no overflow for any batch
    if (s.blocks * s.window() > s.s1) {
        const std::size_t max_batch = s.s0 * (s.s1 / s.window());
        throw std::invalid_argument("encrypted training: batch " + std::to_string(batch) + " needs " +
                                    std::to_string(s.blocks) + " blocks of " + std::to_string(s.s0) +
                                    " rows whose merged logits (" + std::to_string(s.window()) +
                                    " slots each) do not fit in a row of " + std::to_string(s.s1) +
                                    " slots; the largest batch for this shape is " + std::to_string(max_batch));
    }
    s.batch = batch;
    return s;
}

std::string EncShape::describe() const {
    std::ostringstream o;
    o << "slots " << slots << ", d " << d << " (+ bias = " << cols << "), classes " << c << " (padded " << cpad
      << "), block " << s0 << " x " << s1 << ", batch " << batch << " = " << blocks << " block(s), W tile "
      << tile_slots() << " slots";
    return o.str();
}

// ================================================================ softmax polynomials
// The server builds these too, so every exponential here is det::exp (bt/detmath.hpp),
// not std::exp: the polynomials, and so the encrypted head, are the same on every target.
SoftmaxPolys SoftmaxPolys::build(const SoftmaxConfig& cfg, int c, std::size_t cpad) {
    if (!(cfg.V > 0)) throw std::invalid_argument("softmax: the logit bound V must be positive");
    SoftmaxPolys sp;
    sp.cfg = cfg;
    sp.c = c;
    sp.cpad = cpad;
    const double rho = cfg.V / 4;
    const double pads = static_cast<double>(cpad) - c;
    // First group sum S = Σ_valid e^{ρ t} + pads·e^{−ρ} with Σ_valid t = 0, |t| <= 1.
    // Jensen: S >= c. S is convex in t, so its maximum is at a vertex of the feasible set:
    // ⌊c/2⌋ classes at +1, as many at −1, one at 0 if c is odd. 10% margins.
    const double half = std::floor(c / 2.0);
    sp.s_lo = 0.9 * (c + pads * det::exp(-rho));
    sp.s_hi = 1.1 * (half * (det::exp(rho) + det::exp(-rho)) + (c % 2) + pads * det::exp(-rho));
    sp.alpha_g = 2 / (sp.s_hi - sp.s_lo);
    sp.beta_g = -(sp.s_hi + sp.s_lo) / (sp.s_hi - sp.s_lo);
    const double ag = sp.alpha_g, bg = sp.beta_g;
    int exp_degree = cfg.exp_degree;
    auto exp_rel_err = [&](const ChebyshevPoly& p) {
        double worst = 0;
        for (int k = 0; k <= 20000; ++k) {
            const double t = -1 + 2.0 * k / 20000;
            worst = std::max(worst, std::fabs(p.eval(t) - ag * det::exp(rho * t)));
        }
        return worst / (ag * det::exp(rho));
    };
    if (exp_degree <= 0) {  // automatic: the smallest 2^k − 1 with relative error below 1e-7
        for (exp_degree = 7; exp_degree < 255; exp_degree = 2 * exp_degree + 1) {
            sp.exp_p = ckks::chebyshev_interpolate([&](double t) { return ag * det::exp(rho * t); }, -1, 1, exp_degree);
            if (exp_rel_err(sp.exp_p) < 1e-7) break;
        }
    }
    sp.exp_p = ckks::chebyshev_interpolate([&](double t) { return ag * det::exp(rho * t); }, -1, 1, exp_degree);
    sp.exp_err = exp_rel_err(sp.exp_p);
    // Each sum is then brought to an interval of width exactly 1 by a constant κ folded into
    // the polynomial that produces its terms (free), so the next inverse's change of
    // variable has α = 2 (free too). Σ y ∈ [1 − δ, 1 + δ] over c' entries gives
    // Σ y² ∈ [(1 − δ)²/c', (1 + δ)²] (Cauchy–Schwarz).
    auto sum_sq_range = [&](double delta, double& lo, double& hi, double& kappa) {
        if (!(delta < 0.6))
            throw std::invalid_argument("softmax: an inverse has relative error " + fmt("%.3f", delta) +
                                        " on its interval (V = " + fmt("%g", cfg.V) +
                                        "); raise its degree or lower V");
        // The upper end covers TWICE the largest valid sum: the window sums are computed at
        // every offset, and at the offsets between two groups (b·2c' + i, i >= c', later
        // masked) a window holds parts of two groups. The twin never sees what the
        // polynomial does there, but CKKS does: evaluated far outside its interval (T_15
        // at 2.5 is ~6e9) it multiplies the noise of those slots until the masks' rounding
        // lets it leak into the gradient (measured: a run at HETAL's shape left its twin
        // after ~40 steps). Below the interval (sums near 0) the polynomial stays small.
        lo = 0.95 * (1 - delta) * (1 - delta) / static_cast<double>(cpad);
        hi = 2 * 1.02 * (1 + delta) * (1 + delta);
        kappa = 1 / std::sqrt(hi - lo);
    };
    // u = α_g·S + β_g ∈ [−1, 1]; E' = α_g·E, so y = κ1·E'/(u − β_g) = κ1·E/S.
    auto coarse_with = [&](double k1) {
        return ckks::chebyshev_interpolate([=](double u) { return k1 / (u - bg); }, -1, 1, cfg.coarse_degree);
    };
    sp.coarse_p = coarse_with(1.0);
    // p(u)·(u − β_g) = p(u)·α_g·S should be 1: the error relative to 1/(α_g S).
    sp.coarse_rel_err = rel_err_inverse(sp.coarse_p, ag * sp.s_lo, ag * sp.s_hi, [&](double x) { return x + bg; });
    double lo1, hi1, k1, lo2, hi2, k2;
    sum_sq_range(sp.coarse_rel_err, lo1, hi1, k1);
    sp.coarse_p = coarse_with(k1);
    // Σ (κ1 y)² ∈ [κ1² lo1, κ1² hi1]; z' = κ2·y²/Σ y².
    // Interval starts rounded to a multiple of 2^-20 so that b − a = 1 exactly (α = 2).
    auto exact = [](double a) { return std::floor(a * 1048576.0) / 1048576.0; };
    const double a1 = exact(k1 * k1 * lo1);
    ChebyshevPoly unit1 = ckks::chebyshev_interpolate([](double x) { return 1 / x; }, a1, a1 + 1, cfg.inv1_degree);
    sp.inv1_rel_err = rel_err_inverse(unit1, a1, a1 + 1, [](double x) { return x; });
    sum_sq_range(sp.inv1_rel_err, lo2, hi2, k2);
    sp.inv1_p = ckks::chebyshev_interpolate([=](double x) { return k2 / x; }, a1, a1 + 1, cfg.inv1_degree);
    const double a2 = exact(k2 * k2 * lo2);
    sp.inv2_p = ckks::chebyshev_interpolate([](double x) { return 1 / x; }, a2, a2 + 1, cfg.inv2_degree);
    sp.inv2_rel_err = rel_err_inverse(sp.inv2_p, a2, a2 + 1, [](double x) { return x; });
    return sp;
}

std::string SoftmaxPolys::describe() const {
    std::ostringstream o;
    o << "softmax: |z - mean| <= V = " << cfg.V << "; exp(V t/4) degree " << exp_p.degree() << " (rel. error "
      << fmt("%.1e", exp_err) << "); 1/S on [" << fmt("%.3f", s_lo) << ", " << fmt("%.1f", s_hi) << "] degree "
      << coarse_p.degree() << " (coarse, rel. error " << fmt("%.1e", coarse_rel_err) << "); 1/x on ["
      << fmt("%.3f", inv1_p.a) << ", " << fmt("%.3f", inv1_p.b) << "] degree " << inv1_p.degree() << " ("
      << fmt("%.1e", inv1_rel_err) << "), on [" << fmt("%.3f", inv2_p.a) << ", " << fmt("%.3f", inv2_p.b)
      << "] degree " << inv2_p.degree() << " (" << fmt("%.1e", inv2_rel_err) << ")";
    return o.str();
}

std::vector<double> poly_softmax_row(const SoftmaxPolys& sp, const std::vector<double>& z) {
    const std::size_t c = z.size();
    double mean = 0;
    for (double v : z) mean += v / static_cast<double>(c);
    std::vector<double> e(sp.cpad), y(sp.cpad), q(sp.cpad);
    double S = 0;
    for (std::size_t k = 0; k < sp.cpad; ++k) {
        const double t = k < c ? (z[k] - mean) / sp.cfg.V : -1.0;
        e[k] = sp.exp_p.eval(t);
        S += e[k];
    }
    const double g = sp.coarse_p.eval(S + sp.beta_g);
    double Q1 = 0;
    for (std::size_t k = 0; k < sp.cpad; ++k) {
        y[k] = e[k] * g;
        q[k] = y[k] * y[k];
        Q1 += q[k];
    }
    const double i1 = sp.inv1_p.eval(Q1);
    double Q2 = 0;
    for (std::size_t k = 0; k < sp.cpad; ++k) {
        q[k] = q[k] * i1;
        q[k] *= q[k];
        Q2 += q[k];
    }
    const double i2 = sp.inv2_p.eval(Q2);
    std::vector<double> p(c);
    for (std::size_t k = 0; k < c; ++k) p[k] = q[k] * i2;
    return p;
}

// ================================================================ level plan
LevelPlan LevelPlan::make(const SoftmaxPolys& sp, std::size_t L) {
    LevelPlan p;
    p.L = L;
    const long l = static_cast<long>(L);
    const long w = l - 1;                                   // V = (1 + γ)W − γW_old
    const long m = w - 1;                                   // M_i (column masks)
    // Stage 1 from the level of X on: products, masks, exp, coarse inverse, y. Levels to
    // spare go before the products, so X is encrypted (and rotated) as low as possible.
    const long below_x = 2 + ckks::polyeval_depth(sp.exp_p) +
                         std::max<long>(ckks::polyeval_depth(sp.coarse_p), 1) + 1;
    const long xl = std::min(m, std::max(below_x, 1L));
    const long logits = xl - 1;                              // Σ_i rot(X, i) ⊙ M_i
    const long v = logits - 1;                              // masks
    const long e = v - ckks::polyeval_depth(sp.exp_p);
    const long g = e - ckks::polyeval_depth(sp.coarse_p);
    const long y = std::min(g, e - 1) - 1;                  // E ⊙ half mask, then × G
    const long q = l - 1;
    const long i1 = q - ckks::polyeval_depth(sp.inv1_p);
    const long z = std::min(i1, q - 1) - 1;
    const long q2 = z - 1;
    const long i2 = q2 - ckks::polyeval_depth(sp.inv2_p);
    const long P = i2 - 1;
    const long D = P - 1;                                   // (P − Y) masked per block
    const long Q = D - 1;                                   // X ⊙ rot(E, −i)
    const long G = Q - 1;                                   // column masks
    p.stage1_depth = static_cast<int>(l - y);
    p.stage2_depth = static_cast<int>(l - G);
    p.feasible = m >= 1 && y >= 0 && G >= 0;
    if (!p.feasible) {
        std::ostringstream o;
        o << "a step needs " << p.stage1_depth << " levels before the softmax bootstrap and " << p.stage2_depth
          << " after it, but bootstrapping leaves " << L << "; lower the polynomial degrees or use a preset with more "
             "levels";
        p.problem = o.str();
    }
    auto u = [](long x) { return static_cast<std::size_t>(std::max(0L, x)); };
    p.w_level = u(w);
    p.m_level = u(m);
    p.logits_level = u(logits);
    p.v_level = u(v);
    p.exp_level = u(e);
    p.y_level = u(y);
    p.z_level = u(z);
    p.p_level = u(P);
    p.d_level = u(D);
    p.grad_level = u(G);
    p.x_level = u(xl);
    p.y_label_level = u(P);
    return p;
}

std::string LevelPlan::describe() const {
    std::ostringstream o;
    o << "level plan (bootstrapping output level " << L << "):\n"
      << "  W (bootstrapped, sparse)            " << L << "\n"
      << "  V = (1+g)W - gW_old                 " << w_level << "\n"
      << "  head diagonals M_i (column masks)   " << m_level << "   (rotated at " << x_level << ", encrypted X at "
      << x_level << ")\n"
      << "  sum_i rot(X,i) (.) M_i, row sums    " << logits_level << "\n"
      << "  masked, merged logits t             " << v_level << "\n"
      << "  E = exp poly                        " << exp_level << "\n"
      << "  y = E / sum E (coarse)              " << y_level << "   -> bootstrap (softmax) -> " << L << "\n"
      << "  z = y^2 / sum y^2                   " << z_level << "\n"
      << "  P = z^2 / sum z^2                   " << p_level << "   (encrypted labels at " << y_label_level << ")\n"
      << "  D = (P - Y) masked per block        " << d_level << "\n"
      << "  X (.) rot(E, -i), summed over blocks " << (d_level > 0 ? d_level - 1 : 0) << "\n"
      << "  gradient (tiled), W - grad          " << grad_level << "   -> bootstrap (weights) -> " << L << "\n"
      << "  depth: " << stage1_depth << " before the softmax bootstrap, " << stage2_depth << " after; bootstraps per step: 2"
      << (feasible ? "" : "\n  NOT FEASIBLE: " + problem);
    return o.str();
}

// ================================================================ counts, ranges
const char* stage_name(Stage s) {
    switch (s) {
        case Stage::MatMul: return "matmul";
        case Stage::Softmax: return "softmax";
        case Stage::Bootstrap: return "bootstrap";
        case Stage::Update: return "update";
        default: return "other";
    }
}

OpCounts& OpCounts::operator+=(const OpCounts& o) {
    ct_mults += o.ct_mults;
    plain_mults += o.plain_mults;
    const_mults += o.const_mults;
    rotations += o.rotations;
    hoisted_rotations += o.hoisted_rotations;
    relins += o.relins;
    boot_full += o.boot_full;
    boot_sparse += o.boot_sparse;
    polyevals += o.polyevals;
    return *this;
}

std::string OpCounts::describe() const {
    std::ostringstream o;
    o << ct_mults << " ct x ct multiplications (" << polyevals << " polynomial evaluations included; " << relins
      << " relinearizations), "
      << plain_mults << " plaintext and " << const_mults << " constant multiplications, " << rotations
      << " rotations + " << hoisted_rotations << " hoisted, bootstraps: " << boot_full << " (softmax) + " << boot_sparse
      << " (weights)";
    return o.str();
}

void RangeStats::merge(const RangeStats& o) {
    t_max = std::max(t_max, o.t_max);
    s_min = std::min(s_min, o.s_min);
    s_max = std::max(s_max, o.s_max);
    q1_min = std::min(q1_min, o.q1_min);
    q1_max = std::max(q1_max, o.q1_max);
    q2_min = std::min(q2_min, o.q2_min);
    q2_max = std::max(q2_max, o.q2_max);
}

bool RangeStats::within(const SoftmaxPolys& sp) const {
    if (s_max == 0) return true;  // nothing measured
    return t_max <= 1 && s_min >= sp.s_lo && s_max <= sp.s_hi && q1_min >= sp.inv1_p.a && q1_max <= sp.inv1_p.b &&
           q2_min >= sp.inv2_p.a && q2_max <= sp.inv2_p.b;
}

std::string RangeStats::describe(const SoftmaxPolys& sp) const {
    std::ostringstream o;
    o << "max |z - mean|/V = " << fmt("%.3f", t_max) << " (<= 1), sum E in [" << fmt("%.3f", s_min) << ", "
      << fmt("%.2f", s_max) << "] (allowed [" << fmt("%.3f", sp.s_lo) << ", " << fmt("%.1f", sp.s_hi)
      << "]), sum y^2 in [" << fmt("%.3f", q1_min) << ", " << fmt("%.3f", q1_max) << "] (allowed ["
      << fmt("%.3f", sp.inv1_p.a) << ", " << fmt("%.3f", sp.inv1_p.b) << "]), sum z^2 in [" << fmt("%.3f", q2_min)
      << ", " << fmt("%.3f", q2_max) << "] (allowed [" << fmt("%.3f", sp.inv2_p.a) << ", " << fmt("%.3f", sp.inv2_p.b)
      << "])" << (within(sp) ? "" : "  OUT OF RANGE");
    return o.str();
}

}  // namespace bt::train
