// Encrypted softmax-regression training: shape, softmax polynomials, level plan, the
// two backends and the engine (see bt/train/encrypted.hpp for the layout and maths).
#include "bt/train/encrypted.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace bt::train {

using ckks::ChebyshevPoly;
using ckks::Ciphertext;

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

long norm_step(long k, std::size_t slots) {
    const long n = static_cast<long>(slots);
    return ((k % n) + n) % n;
}

}  // namespace

// ================================================================ shape
EncShape EncShape::make(std::size_t slots, std::size_t d, int classes, std::size_t batch) {
    EncShape s;
    if (slots < 8 || (slots & (slots - 1)) != 0)
        throw std::invalid_argument("encrypted training: " + std::to_string(slots) + " slots is not a power of two >= 8");
    if (classes < 2) throw std::invalid_argument("encrypted training: need at least 2 classes, got " + std::to_string(classes));
    if (d < 1) throw std::invalid_argument("encrypted training: need at least one feature");
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
    s.blocks = (batch + s.s0 - 1) / s.s0;
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
    sp.s_lo = 0.9 * (c + pads * std::exp(-rho));
    sp.s_hi = 1.1 * (half * (std::exp(rho) + std::exp(-rho)) + (c % 2) + pads * std::exp(-rho));
    sp.alpha_g = 2 / (sp.s_hi - sp.s_lo);
    sp.beta_g = -(sp.s_hi + sp.s_lo) / (sp.s_hi - sp.s_lo);
    const double ag = sp.alpha_g, bg = sp.beta_g;
    int exp_degree = cfg.exp_degree;
    auto exp_rel_err = [&](const ChebyshevPoly& p) {
        double worst = 0;
        for (int k = 0; k <= 20000; ++k) {
            const double t = -1 + 2.0 * k / 20000;
            worst = std::max(worst, std::fabs(p.eval(t) - ag * std::exp(rho * t)));
        }
        return worst / (ag * std::exp(rho));
    };
    if (exp_degree <= 0) {  // automatic: the smallest 2^k − 1 with relative error below 1e-7
        for (exp_degree = 7; exp_degree < 255; exp_degree = 2 * exp_degree + 1) {
            sp.exp_p = ckks::chebyshev_interpolate([&](double t) { return ag * std::exp(rho * t); }, -1, 1, exp_degree);
            if (exp_rel_err(sp.exp_p) < 1e-7) break;
        }
    }
    sp.exp_p = ckks::chebyshev_interpolate([&](double t) { return ag * std::exp(rho * t); }, -1, 1, exp_degree);
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
        lo = 0.95 * (1 - delta) * (1 - delta) / static_cast<double>(cpad);
        hi = 1.02 * (1 + delta) * (1 + delta);
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

// ================================================================ twin backend
TwinBackend::TwinBackend(std::size_t slots, std::size_t sparse_slots) : slots_(slots), sparse_slots_(sparse_slots) {}

TwinBackend::Ct TwinBackend::rotated(const Ct& a, long k) {
    const std::size_t s = static_cast<std::size_t>(norm_step(k, slots_));
    steps_.insert(static_cast<long>(s));
    Ct r(a.size());
    for (std::size_t p = 0; p < a.size(); ++p) r[p] = a[(p + s) % a.size()];
    return r;
}

TwinBackend::Ct TwinBackend::rotate(const Ct& a, long k) {
    if (norm_step(k, slots_) == 0) return a;
    ++counts.rotations;
    return rotated(a, k);
}

std::vector<TwinBackend::Ct> TwinBackend::rotate_hoisted(const Ct& a, const std::vector<long>& steps) {
    std::vector<Ct> out;
    for (long k : steps) {
        ++counts.hoisted_rotations;
        out.push_back(rotated(a, k));
    }
    return out;
}

TwinBackend::Ct TwinBackend::rotate_and_sum(const Ct& a, std::size_t window, long stride) {
    Ct r = a;
    for (std::size_t k = 1; k < window; k <<= 1) r = add(r, rotate(r, static_cast<long>(k) * stride));
    return r;
}

TwinBackend::Ct TwinBackend::mul(const Ct& a, const Ct& b) {
    ++counts.relins;
    return mul_lazy(a, b);
}
TwinBackend::Ct TwinBackend::mul_lazy(const Ct& a, const Ct& b) {
    ++counts.ct_mults;
    Ct r(a.size());
    for (std::size_t p = 0; p < a.size(); ++p) r[p] = a[p] * b[p];
    return r;
}
TwinBackend::Ct TwinBackend::mul_mask(const Ct& a, const Mask& m) {
    ++counts.plain_mults;
    Ct r(a.size());
    for (std::size_t p = 0; p < a.size(); ++p) r[p] = a[p] * m.v[p];
    return r;
}
TwinBackend::Ct TwinBackend::mask_lazy(const Ct& a, const Mask& m) { return mul_mask(a, m); }
TwinBackend::Ct TwinBackend::mul_const(const Ct& a, double c) {
    ++counts.const_mults;
    Ct r(a);
    for (double& x : r) x *= c;
    return r;
}
TwinBackend::Ct TwinBackend::mul_int(const Ct& a, long long k) {
    Ct r(a);
    for (double& x : r) x *= static_cast<double>(k);
    return r;
}
TwinBackend::Ct TwinBackend::add(const Ct& a, const Ct& b) {
    Ct r(a);
    for (std::size_t p = 0; p < a.size(); ++p) r[p] += b[p];
    return r;
}
TwinBackend::Ct TwinBackend::sub(const Ct& a, const Ct& b) {
    Ct r(a);
    for (std::size_t p = 0; p < a.size(); ++p) r[p] -= b[p];
    return r;
}
TwinBackend::Ct TwinBackend::add_mask(const Ct& a, const Mask& m) {
    Ct r(a);
    for (std::size_t p = 0; p < a.size(); ++p) r[p] += m.v[p];
    return r;
}
TwinBackend::Ct TwinBackend::add_const(const Ct& a, double c) {
    Ct r(a);
    for (double& x : r) x += c;
    return r;
}
TwinBackend::Ct TwinBackend::poly(const Ct& a, const ChebyshevPoly& p) {
    ++counts.polyevals;
    const ckks::PolyEvalPlan plan = ckks::plan_chebyshev(p, static_cast<std::size_t>(ckks::polyeval_depth(p)));
    counts.ct_mults += static_cast<std::size_t>(plan.ct_mults);
    counts.relins += static_cast<std::size_t>(plan.relins);
    return ckks::evaluate_chebyshev_twin(p, a);
}
TwinBackend::Ct TwinBackend::boot_full(const Ct& a) {
    ++counts.boot_full;
    return a;
}
TwinBackend::Ct TwinBackend::boot_sparse(const Ct& a) {
    ++counts.boot_sparse;
    // A sparse bootstrap of c'·s1 slots returns the periodic part: the mean over the
    // copies (the input is periodic by construction; this is exact then).
    const std::size_t n = sparse_slots_, copies = a.size() / n;
    Ct r(a.size(), 0.0);
    for (std::size_t p = 0; p < n; ++p) {
        double s = 0;
        for (std::size_t k = 0; k < copies; ++k) s += a[p + k * n];
        for (std::size_t k = 0; k < copies; ++k) r[p + k * n] = s / static_cast<double>(copies);
    }
    return r;
}

// ================================================================ CKKS backend
CkksBackend::CkksBackend(const ckks::Evaluator& ev, const ckks::Bootstrapper& full, const ckks::Bootstrapper& sparse,
                         std::size_t sparse_slots)
    : ev_(ev), full_(full), sparse_(sparse), sparse_slots_(sparse_slots), t0_(std::chrono::steady_clock::now()) {}

void CkksBackend::set_stage(Stage s) {
    const auto now = std::chrono::steady_clock::now();
    seconds[static_cast<std::size_t>(stage_)] += std::chrono::duration<double>(now - t0_).count();
    t0_ = now;
    stage_ = s;
}

const ckks::Plaintext& CkksBackend::encoded(const Mask& m, std::size_t level, double scale) {
    auto key = std::make_pair(m.key, std::make_pair(level, scale));
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    return cache_.emplace(key, ev_.encoder().encode(m.v, level, scale)).first->second;
}

CkksBackend::Ct CkksBackend::rotate(const Ct& a, long k) {
    if (norm_step(k, a.slots) == 0) return a;
    ++counts.rotations;
    return ev_.rotate(a, k);
}
std::vector<CkksBackend::Ct> CkksBackend::rotate_hoisted(const Ct& a, const std::vector<long>& steps) {
    counts.hoisted_rotations += steps.size();
    return ev_.rotate_hoisted(a, steps);
}
CkksBackend::Ct CkksBackend::rotate_and_sum(const Ct& a, std::size_t window, long stride) {
    for (std::size_t k = 1; k < window; k <<= 1) ++counts.rotations;
    return ev_.rotate_and_sum(a, window, stride);
}
CkksBackend::Ct CkksBackend::mul(const Ct& a, const Ct& b) {
    ++counts.ct_mults;
    ++counts.relins;
    return ev_.multiply_relin_rescale(a, b);
}
CkksBackend::Ct CkksBackend::mul_mask(const Ct& a, const Mask& m) {
    ++counts.plain_mults;
    Ct r = a;
    const double s = ev_.params()->nominal_scale(a.level);
    ev_.mul_plain_inplace(r, encoded(m, a.level, s));
    ev_.rescale_inplace(r);
    return r;
}
CkksBackend::Ct CkksBackend::mul_lazy(const Ct& a, const Ct& b) {
    ++counts.ct_mults;
    return ev_.multiply(a, b);
}
CkksBackend::Ct CkksBackend::mask_lazy(const Ct& a, const Mask& m) {
    ++counts.plain_mults;
    Ct r = a;
    ev_.mul_plain_inplace(r, encoded(m, a.level, ev_.params()->nominal_scale(a.level)));
    return r;
}
CkksBackend::Ct CkksBackend::relin_rescale(const Ct& a) {
    ++counts.relins;
    Ct r = a;
    ev_.relinearize_inplace(r);
    ev_.rescale_inplace(r);
    return r;
}
CkksBackend::Ct CkksBackend::rescale(const Ct& a) { return ev_.rescale(a); }
CkksBackend::Ct CkksBackend::mul_const(const Ct& a, double c) {
    ++counts.const_mults;
    Ct r = a;
    ev_.mul_const_inplace(r, c);
    ev_.rescale_inplace(r);
    return r;
}
CkksBackend::Ct CkksBackend::mul_int(const Ct& a, long long k) {
    Ct r = a;
    ev_.mul_int_inplace(r, k);
    return r;
}
CkksBackend::Ct CkksBackend::add(const Ct& a, const Ct& b) { return ev_.add(a, b); }
CkksBackend::Ct CkksBackend::sub(const Ct& a, const Ct& b) { return ev_.sub(a, b); }
CkksBackend::Ct CkksBackend::add_mask(const Ct& a, const Mask& m) {
    Ct r = a;
    ev_.add_plain_inplace(r, encoded(m, a.level, a.scale));
    return r;
}
CkksBackend::Ct CkksBackend::add_const(const Ct& a, double c) {
    Ct r = a;
    ev_.add_const_inplace(r, c);
    return r;
}
CkksBackend::Ct CkksBackend::poly(const Ct& a, const ChebyshevPoly& p) {
    ++counts.polyevals;
    ckks::PolyEvalPlan plan;
    Ct r = ckks::evaluate_chebyshev(ev_, a, p, {}, &plan);
    counts.ct_mults += static_cast<std::size_t>(plan.ct_mults);
    counts.relins += static_cast<std::size_t>(plan.relins);
    return r;
}
CkksBackend::Ct CkksBackend::drop(const Ct& a, std::size_t level) {
    if (a.level <= level) return a;
    Ct r = a;
    ev_.adjust_to_inplace(r, level, ev_.params()->nominal_scale(level));
    return r;
}
CkksBackend::Ct CkksBackend::boot_full(const Ct& a) {
    ++counts.boot_full;
    return full_.bootstrap(a);
}
CkksBackend::Ct CkksBackend::boot_sparse(const Ct& a) {
    ++counts.boot_sparse;
    Ct in = a;
    const std::size_t full_slots = in.slots;
    in.slots = sparse_slots_;  // a tiled vector IS the sparse packing of its tile
    Ct out = sparse_.bootstrap(in);
    out.slots = full_slots;    // and a sparse packing decodes, in full slots, to the tiled vector
    return out;
}
std::vector<double> CkksBackend::probe(const Ct& a) {
    if (!dec_) throw std::logic_error("CkksBackend::probe without a decryptor");
    const auto z = ev_.encoder().decode(dec_->decrypt(a));
    std::vector<double> r(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) r[i] = z[i].real();
    return r;
}

// ================================================================ packing
std::vector<std::vector<double>> pack_x(const EncShape& sh, const Features& f, const std::vector<std::size_t>& rows) {
    if (f.cols != sh.cols)
        throw std::invalid_argument("pack_x: features have " + std::to_string(f.cols) + " columns, the shape " +
                                    std::to_string(sh.cols));
    if (rows.size() > sh.blocks * sh.s0) throw std::invalid_argument("pack_x: more rows than the batch holds");
    std::vector<std::vector<double>> out(sh.blocks, std::vector<double>(sh.slots, 0.0));
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t b = k / sh.s0, r = k % sh.s0;
        const double* x = f.row(rows[k]);
        for (std::size_t j = 0; j < sh.cols; ++j) out[b][r * sh.s1 + sh.xoff() + j] = x[j];
    }
    return out;
}

std::vector<double> pack_y(const EncShape& sh, const Features& f, const std::vector<std::size_t>& rows) {
    std::vector<double> y(sh.slots, 0.0);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t b = k / sh.s0, r = k % sh.s0;
        const int lab = f.label[rows[k]];
        for (std::size_t i = 0; i < sh.cpad; ++i)
            if (static_cast<int>((r + i) % sh.cpad) == lab) y[r * sh.s1 + sh.offset(b, i)] = 1;
    }
    return y;
}

std::vector<double> pack_head(const EncShape& sh, const Head& h) {
    std::vector<double> v(sh.slots, 0.0);
    for (std::size_t p = 0; p < sh.slots; ++p) {
        const std::size_t k = (p / sh.s1) % sh.cpad, q = p % sh.s1;
        if (k < h.classes && q >= sh.xoff() && q - sh.xoff() < h.cols) v[p] = h.w[k * h.cols + q - sh.xoff()];
    }
    return v;
}

Head unpack_head(const EncShape& sh, const std::vector<double>& slots) {
    Head h;
    h.classes = static_cast<std::size_t>(sh.c);
    h.cols = sh.cols;
    h.w.assign(h.classes * h.cols, 0.0);
    const std::size_t copies = sh.slots / sh.tile_slots();
    for (std::size_t k = 0; k < h.classes; ++k)
        for (std::size_t j = 0; j < h.cols; ++j) {
            double s = 0;
            for (std::size_t t = 0; t < copies; ++t) s += slots[t * sh.tile_slots() + k * sh.s1 + sh.xoff() + j];
            h.w[k * h.cols + j] = s / static_cast<double>(copies);
        }
    return h;
}

// ================================================================ engine
template <class BK>
Engine<BK>::Engine(const EncShape& sh, const SoftmaxPolys& sp, BK& bk) : sh_(sh), sp_(sp), bk_(bk) {
    const std::size_t n = sh.slots;
    logit_mask_ = Mask{"logit", std::vector<double>(n, 0.0)};
    for (std::size_t r = 0; r < sh.s0; ++r)
        for (std::size_t i = 0; i < sh.cpad; ++i)
            if (!pad(r, i)) logit_mask_.v[r * sh.s1 + i] = 1.0 / (sh.c * sp.cfg.V);
    for (std::size_t k = 0; k < sh.cpad; ++k) {
        Mask m{"col" + std::to_string(k), std::vector<double>(n, 0.0)};
        for (std::size_t r = 0; r < sh.s0; ++r)
            for (std::size_t j = 0; j < sh.cols; ++j)
                if ((sh.xoff() + j) % sh.cpad == k) m.v[r * sh.s1 + sh.xoff() + j] = 1.0;
        col_mask_.push_back(std::move(m));
    }
    pad_const_ = Mask{"padconst", std::vector<double>(n, 0.0)};
    half_mask_ = Mask{"half", std::vector<double>(n, 0.0)};
    for (std::size_t r = 0; r < sh.s0; ++r)
        for (std::size_t b = 0; b < sh.blocks; ++b)
            for (std::size_t i = 0; i < sh.cpad; ++i) {
                half_mask_.v[r * sh.s1 + sh.offset(b, i)] = 1;
                if (pad(r, i)) pad_const_.v[r * sh.s1 + sh.offset(b, i)] = -1;
            }
}

template <class BK>
const Mask& Engine<BK>::grad_mask(std::size_t rows_valid, double scale) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "grad_%zu_%.17g", rows_valid, scale);
    auto it = grad_cache_.find(buf);
    if (it != grad_cache_.end()) return it->second;
    Mask m{buf, std::vector<double>(sh_.slots, 0.0)};
    for (std::size_t r = 0; r < rows_valid; ++r)
        for (std::size_t i = 0; i < sh_.cpad; ++i)
            if (!pad(r, i)) m.v[r * sh_.s1 + i] = scale;
    return grad_cache_.emplace(buf, std::move(m)).first->second;
}

template <class BK>
std::vector<long> Engine<BK>::column_steps(long sign) const {
    std::vector<long> steps;
    for (long i = 1; i < static_cast<long>(sh_.cpad); ++i) steps.push_back(sign * i);
    return steps;
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::select_columns(const std::vector<const Ct*>& by_residue) {
    Ct a = bk_.mask_lazy(*by_residue[0], col_mask_[0]);
    for (std::size_t k = 1; k < sh_.cpad; ++k) a = bk_.add(a, bk_.mask_lazy(*by_residue[k], col_mask_[k]));
    return bk_.rescale(a);
}

template <class BK>
void Engine<BK>::prepare(BatchData<BK>& bd) {
    bk_.set_stage(Stage::MatMul);
    const std::vector<long> steps = column_steps(1);
    bd.xrot.clear();
    for (const Ct& x : bd.x) bd.xrot.push_back(bk_.rotate_hoisted(x, steps));
    bk_.set_stage(Stage::Other);
}

template <class BK>
bool Engine<BK>::rotations_fit(const EncShape& sh, std::size_t batches, std::size_t x_level, std::size_t n) {
    return batches * sh.blocks * (sh.cpad - 1) * 2 * (x_level + 1) * n * sizeof(std::uint64_t) <= kRotationCacheBytes;
}

template <class BK>
void Engine<BK>::record_ranges(const Ct& t, const Ct& s, const Ct* q1, const Ct* q2, const BatchData<BK>& bd) {
    if (!bk_.can_probe()) return;
    RangeStats rs;
    const auto tv = bk_.probe(t), sv = bk_.probe(s);
    std::vector<double> q1v, q2v;
    if (q1) q1v = bk_.probe(*q1);
    if (q2) q2v = bk_.probe(*q2);
    for (std::size_t b = 0; b < sh_.blocks; ++b)
        for (std::size_t r = 0; r < bd.rows_valid[b]; ++r) {
            for (std::size_t i = 0; i < sh_.cpad; ++i) {
                const std::size_t p = r * sh_.s1 + sh_.offset(b, i);
                if (!pad(r, i)) rs.t_max = std::max(rs.t_max, std::fabs(tv[p]));
                const double S = (sv[p] - sp_.beta_g) / sp_.alpha_g;
                rs.s_min = std::min(rs.s_min, S);
                rs.s_max = std::max(rs.s_max, S);
                if (q1) {
                    rs.q1_min = std::min(rs.q1_min, q1v[p]);
                    rs.q1_max = std::max(rs.q1_max, q1v[p]);
                }
                if (q2) {
                    rs.q2_min = std::min(rs.q2_min, q2v[p]);
                    rs.q2_max = std::max(rs.q2_max, q2v[p]);
                }
            }
        }
    ranges.merge(rs);
}

template <class BK>
std::vector<typename Engine<BK>::Ct> Engine<BK>::head_diagonals(const Ct& vh, std::size_t level) {
    const long s1 = static_cast<long>(sh_.s1);
    // Centre the classes: c·W̃ − Σ_k rot(W̃, k·s1) (pad rows of W are zero), 1/c in the masks.
    const Ct sum = bk_.rotate_and_sum(vh, sh_.cpad, s1);
    const Ct wc = bk_.sub(bk_.mul_int(vh, sh_.c), sum);
    std::vector<long> steps;
    for (std::size_t k = 1; k < sh_.cpad; ++k) steps.push_back(static_cast<long>(k) * s1);
    const std::vector<Ct> wr = bk_.rotate_hoisted(wc, steps);
    // U: column m of row r from row (r + k) of Wc with k ≡ m, i.e. class (m + r) mod c'.
    std::vector<const Ct*> by_residue{&wc};
    for (const Ct& r : wr) by_residue.push_back(&r);
    Ct u = bk_.drop(select_columns(by_residue), level);  // rotated where X is
    steps.clear();
    for (std::size_t i = 1; i < sh_.cpad; ++i) steps.push_back(static_cast<long>(i) - static_cast<long>(i) * s1);
    std::vector<Ct> m = bk_.rotate_hoisted(u, steps);
    m.insert(m.begin(), std::move(u));
    return m;
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::logits(const Ct& vh, const BatchData<BK>& bd) {
    bk_.set_stage(Stage::MatMul);
    const std::vector<Ct> M = head_diagonals(vh, bk_.level(bd.x[0]));
    const std::vector<long> steps = column_steps(1);
    const bool cached = bd.xrot.size() == bd.x.size();
    Ct acc;
    for (std::size_t b = 0; b < sh_.blocks; ++b) {
        std::vector<Ct> fresh;
        if (!cached) fresh = bk_.rotate_hoisted(bd.x[b], steps);
        const std::vector<Ct>& xr = cached ? bd.xrot[b] : fresh;
        Ct t = bk_.mul_lazy(bd.x[b], M[0]);
        for (std::size_t i = 1; i < sh_.cpad; ++i) t = bk_.add(t, bk_.mul_lazy(xr[i - 1], M[i]));
        t = bk_.relin_rescale(t);
        // Columns k + t·c' summed into column k: slot r·s1 + k = logit of class (r + k) mod c'.
        const Ct r = bk_.rotate_and_sum(t, sh_.s1 / sh_.cpad, static_cast<long>(sh_.cpad));
        Ct m = bk_.mul_mask(r, logit_mask_);
        if (b > 0) m = bk_.rotate(m, -static_cast<long>(b * sh_.window()));
        acc = b == 0 ? m : bk_.add(acc, m);
    }
    bk_.set_stage(Stage::Softmax);
    return bk_.add_mask(acc, pad_const_);
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::forward(const Ct& vh, const BatchData<BK>& bd) {
    const long cp = static_cast<long>(sh_.cpad);
    const Ct t = logits(vh, bd);
    const Ct td = bk_.add(t, bk_.rotate(t, -cp));
    const Ct E = bk_.poly(td, sp_.exp_p);
    const Ct S = bk_.add_const(bk_.rotate_and_sum(E, sh_.cpad, 1), sp_.beta_g);
    const Ct G = bk_.poly(S, sp_.coarse_p);
    const Ct Em = bk_.mul_mask(E, half_mask_);
    Ct y = bk_.mul(Em, G);
    bk_.set_stage(Stage::Bootstrap);
    y = bk_.boot_full(y);
    bk_.set_stage(Stage::Softmax);
    const Ct yd = bk_.add(y, bk_.rotate(y, -cp));
    const Ct q = bk_.mul(yd, yd);
    const Ct Q = bk_.rotate_and_sum(q, sh_.cpad, 1);
    const Ct I1 = bk_.poly(Q, sp_.inv1_p);
    const Ct qm = bk_.mul_mask(q, half_mask_);
    const Ct z = bk_.mul(qm, I1);
    const Ct zd = bk_.add(z, bk_.rotate(z, -cp));
    const Ct q2 = bk_.mul(zd, zd);
    const Ct Q2 = bk_.rotate_and_sum(q2, sh_.cpad, 1);
    const Ct I2 = bk_.poly(Q2, sp_.inv2_p);
    Ct P = bk_.mul(q2, I2);
    record_ranges(t, S, &Q, &Q2, bd);
    return P;
}

template <class BK>
void Engine<BK>::step(Ct& w, Ct& v, const BatchData<BK>& bd, double lr, double gamma) {
    const Ct P = forward(v, bd);
    bk_.set_stage(Stage::MatMul);
    const Ct D = bk_.sub(P, bd.y);
    const long s1 = static_cast<long>(sh_.s1), cp = static_cast<long>(sh_.cpad);
    const double scale = lr / static_cast<double>(bd.total_rows);
    const std::vector<long> steps = column_steps(-1);
    std::vector<Ct> Q(sh_.cpad);
    bool first = true;
    for (std::size_t b = 0; b < sh_.blocks; ++b) {
        if (bd.rows_valid[b] == 0) continue;
        // Block b's offsets b·2c' + i brought to i, masked, replicated with period c' along
        // the row: E[r·s1 + j] = D[r][(r + j) mod c'].
        const Ct Db = b == 0 ? D : bk_.rotate(D, static_cast<long>(b * sh_.window()));
        const Ct Dm = bk_.mul_mask(Db, grad_mask(bd.rows_valid[b], scale));
        const Ct E = bk_.rotate_and_sum(Dm, sh_.s1 / sh_.cpad, -cp);
        const std::vector<Ct> Er = bk_.rotate_hoisted(E, steps);
        const Ct xb = bk_.drop(bd.x[b], bk_.level(E));
        for (std::size_t i = 0; i < sh_.cpad; ++i) {
            Ct t = bk_.mul_lazy(xb, i == 0 ? E : Er[i - 1]);
            Q[i] = first ? std::move(t) : bk_.add(Q[i], t);
        }
        first = false;
    }
    for (Ct& q : Q) q = bk_.relin_rescale(q);
    // A_u = Σ_k colmask_k ⊙ Q_{(k + u) mod c'}, then rows r' + u brought to r'.
    Ct S;
    std::vector<const Ct*> by_residue(sh_.cpad);
    for (std::size_t u = 0; u < sh_.cpad; ++u) {
        for (std::size_t k = 0; k < sh_.cpad; ++k) by_residue[k] = &Q[(k + u) % sh_.cpad];
        Ct a = select_columns(by_residue);
        if (u > 0) a = bk_.rotate(a, static_cast<long>(u) * s1);
        S = u == 0 ? std::move(a) : bk_.add(S, a);
    }
    // Rows r ≡ k (mod c') hold class k: summing row groups gives the tiled gradient.
    const Ct g = bk_.rotate_and_sum(S, sh_.s0 / sh_.cpad, static_cast<long>(sh_.cpad) * s1);
    bk_.set_stage(Stage::Update);
    Ct wn = bk_.sub(v, g);
    bk_.set_stage(Stage::Bootstrap);
    wn = bk_.boot_sparse(wn);
    bk_.set_stage(Stage::Update);
    Ct vn = bk_.sub(bk_.mul_const(wn, 1 + gamma), bk_.mul_const(w, gamma));
    w = std::move(wn);
    v = std::move(vn);
    bk_.set_stage(Stage::Other);
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::true_class_prob(const Ct& vh, const BatchData<BK>& bd) {
    const Ct P = forward(vh, bd);
    bk_.set_stage(Stage::Softmax);
    const Ct py = bk_.mul(P, bd.y);
    Ct r = bk_.rotate_and_sum(py, sh_.cpad, 1);
    bk_.set_stage(Stage::Other);
    return r;
}

OpCounts dry_run_step(const EncShape& sh, const SoftmaxPolys& sp, std::vector<long>& rotation_steps) {
    TwinBackend tb(sh.slots, sh.tile_slots());
    Engine<TwinBackend> e(sh, sp, tb);
    BatchData<TwinBackend> bd;
    bd.x.assign(sh.blocks, std::vector<double>(sh.slots, 0.0));
    bd.y.assign(sh.slots, 0.0);
    bd.rows_valid.assign(sh.blocks, sh.s0);
    bd.total_rows = sh.blocks * sh.s0;
    std::vector<double> w(sh.slots, 0.0), v = w;
    tb.counts = OpCounts{};
    e.step(w, v, bd, 1.0, 0.5);
    rotation_steps.assign(tb.rotation_steps().begin(), tb.rotation_steps().end());
    return tb.counts;
}

template class Engine<TwinBackend>;
template class Engine<CkksBackend>;

}  // namespace bt::train
