// Chebyshev interpolation and homomorphic polynomial evaluation (see bt/ckks/polyeval.hpp).
//
// One engine, three backends: ciphertexts (the real thing), level counters (the plan,
// a dry run that also checks every level the engine relies on) and plain numbers (the
// float64 twin). The engine decides everything — which T_j to build and how, where to
// split, which parts are leaves, in which order terms are added — so the backends
// cannot disagree on the algorithm.
//
// Determinism across targets: Chebyshev nodes come from det::cos_2pi_ratio and the
// coefficients are sums in double-double (bt/detmath.hpp), rounded once, so a polynomial
// has the same coefficients on x86-64 and aarch64 (given a function that does too).
#include "bt/ckks/polyeval.hpp"

#include "bt/detmath.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace bt::ckks {

namespace {

[[noreturn]] void fail(const char* op, const std::string& msg) {
    throw std::invalid_argument(std::string(op) + ": " + msg);
}

// ⌈log2 j⌉ for j >= 1: the depth of T_j in the power basis.
int ceil_log2(std::size_t j) {
    int k = 0;
    while ((std::size_t{1} << k) < j) ++k;
    return k;
}

// The largest power of two <= j (j >= 1).
std::size_t floor_pow2(std::size_t j) {
    std::size_t p = 1;
    while (2 * p <= j) p *= 2;
    return p;
}

bool is_pow2(std::size_t j) { return j != 0 && (j & (j - 1)) == 0; }

// Index of the last nonzero coefficient, -1 if all are zero.
long effective_degree(const std::vector<double>& c) {
    long d = static_cast<long>(c.size()) - 1;
    while (d >= 0 && c[static_cast<std::size_t>(d)] == 0) --d;
    return d;
}

// p = q·T_n + r for deg p < 2n, using T_{n+j} = 2·T_j·T_n - T_{n-j} (j >= 1):
// q_0 = c_n, q_j = 2·c_{n+j}, r = c_0 … c_{n-1} with r_{n-j} -= c_{n+j}.
void split(const std::vector<double>& c, std::size_t deg, std::size_t n, std::vector<double>& q,
           std::vector<double>& r) {
    q.assign(deg - n + 1, 0.0);
    r.assign(c.begin(), c.begin() + static_cast<long>(n));
    q[0] = c[n];
    for (std::size_t j = 1; n + j <= deg; ++j) {
        q[j] = 2 * c[n + j];
        r[n - j] -= c[n + j];
    }
}

// ================================================================ the engine

// Evaluates Σ c_j T_j(y) given T_1 = y through a backend B with
//   V                       a value (ciphertext, level counter, vector of numbers)
//   double scale(const V&)  its scale (1 for non-ciphertexts)
//   double q(level)         the prime q_level (1 for non-ciphertexts)
//   V product(Tm, Tn, Tk*, j)       2·Tm·Tn - Tk (Tk null: - 1), one level down
//   V leaf(terms, c0, L, S)          Σ c·T + c0, raw: level L+1, scale S·q_{L+1}
//   V tensor(q, Tn, L, S)            q·Tn, raw: level L+1, scale S·q_{L+1} (q at level L+1)
//   void add(V&, const V&), void add_const(V&, double)   on raw values
//   V finish(raw, L, S)              relinearize, rescale: level L, scale S
// Levels: T_j sits at y_level - ⌈log2 j⌉; a node of depth D ends at y_level - D.
template <class B>
class Engine {
public:
    using V = typename B::V;
    struct Node {
        bool is_const = true;
        double c = 0;
        V v{};
    };

    Engine(B& be, V t1, std::size_t y_level, int log_baby)
        : be_(be), y_level_(y_level), baby_(std::size_t{1} << log_baby), log_baby_(log_baby) {
        T_.emplace(1, std::move(t1));
    }

    // T_j, built on first use: m = the largest power of two below j, n = j - m,
    // T_j = 2·T_m·T_n - T_{m-n} (T_0 = 1), so depth(T_j) = ⌈log2 j⌉.
    const V& power(std::size_t j) {
        auto it = T_.find(j);
        if (it != T_.end()) return it->second;
        if (j >= baby_ && !is_pow2(j)) throw std::logic_error("polyeval: T_" + std::to_string(j) + " is not a baby or giant step");
        const std::size_t m = is_pow2(j) ? j / 2 : floor_pow2(j), n = j - m, k = m - n;
        const V& tm = power(m);
        const V& tn = power(n);
        const V* tk = k ? &power(k) : nullptr;
        V v = be_.product(tm, tn, tk, j);
        return T_.emplace(j, std::move(v)).first->second;
    }

    // Σ c_j T_j finishing at depth D (level y_level - D) with scale S.
    Node eval(const std::vector<double>& c, int D, double S) {
        Node out = eval_raw(c, D, S);
        if (!out.is_const) out.v = be_.finish(std::move(out.v), level_at(D), S);
        return out;
    }

    // The same before its relinearization and rescale: level y_level - D + 1, scale
    // S·q_{L+1}. A remainder shares that level and scale with the product it is added
    // to, so a whole chain q_1·T_{n_1} + (q_2·T_{n_2} + (… + leaf)) is summed raw and
    // costs one relinearization and one rescale.
    Node eval_raw(const std::vector<double>& c, int D, double S) {
        const long dl = effective_degree(c);
        Node out;
        if (dl <= 0) {
            out.c = dl == 0 ? c[0] : 0.0;
            return out;
        }
        const std::size_t deg = static_cast<std::size_t>(dl);
        const std::size_t L = level_at(D);
        out.is_const = false;
        // A leaf needs every T_j (j <= deg) one level above the output.
        if (deg < baby_ && ceil_log2(deg) + 1 <= D) {
            std::vector<std::pair<double, const V*>> terms;
            for (std::size_t j = 1; j <= deg; ++j)
                if (c[j] != 0) terms.emplace_back(c[j], &power(j));
            out.v = be_.leaf(terms, c[0], L, S);
            return out;
        }
        const std::size_t n = floor_pow2(deg);
        std::vector<double> qc, rc;
        split(c, deg, n, qc, rc);
        const V& tn = power(n);
        const Node qn = eval(qc, D - 1, S * be_.q(L + 1) / be_.scale(tn));
        if (qn.is_const) {  // deg == n: q is the constant c_n
            std::vector<std::pair<double, const V*>> one{{qn.c, &tn}};
            out.v = be_.leaf(one, 0.0, L, S);
        } else {
            out.v = be_.tensor(qn.v, tn, L, S);
        }
        const Node rn = eval_raw(rc, D, S);
        if (rn.is_const) {
            if (rn.c != 0) be_.add_const(out.v, rn.c);
        } else {
            be_.add(out.v, rn.v);
        }
        return out;
    }

    std::size_t level_at(int D) const {
        if (D < 0 || static_cast<std::size_t>(D) > y_level_)
            throw std::logic_error("polyeval: depth " + std::to_string(D) + " outside the level budget");
        return y_level_ - static_cast<std::size_t>(D);
    }
    int log_baby() const { return log_baby_; }

private:
    B& be_;
    std::size_t y_level_;
    std::size_t baby_;
    int log_baby_;
    std::map<std::size_t, V> T_;  // node-based: references stay valid while it grows
};

// ================================================================ backends

// Level counters: the plan. Checks that every operand is where the engine says.
struct CountBackend {
    struct V {
        std::size_t level = 0;
        bool three = false;  // holds an unrelinearized tensor
    };
    PolyEvalPlan* plan;
    std::size_t baby;

    double scale(const V&) const { return 1; }
    double q(std::size_t) const { return 1; }
    V product(const V& tm, const V& tn, const V* tk, std::size_t j) {
        const std::size_t L = std::min(tm.level, tn.level);
        if (L == 0 || (tk && tk->level < L)) throw std::logic_error("polyeval plan: power step below level 1");
        ++plan->power_mults;
        ++plan->relins;
        ++plan->rescales;
        if (j >= baby) ++plan->giant_mults;
        return {L - 1, false};
    }
    V leaf(const std::vector<std::pair<double, const V*>>& terms, double, std::size_t L, double) {
        for (const auto& t : terms)
            if (t.second->level < L + 1) throw std::logic_error("polyeval plan: leaf term below its level");
        plan->const_mults += static_cast<int>(terms.size());
        return {L + 1, false};
    }
    V tensor(const V& qv, const V& tn, std::size_t L, double) {
        if (qv.level != L + 1 || tn.level < L + 1 || qv.three)
            throw std::logic_error("polyeval plan: product operands misplaced");
        ++plan->tree_mults;
        return {L + 1, true};
    }
    void add(V& a, const V& b) const {
        if (a.level != b.level) throw std::logic_error("polyeval plan: addition across levels");
        a.three = a.three || b.three;
    }
    void add_const(V&, double) const {}
    V finish(V v, std::size_t L, double) {
        if (v.level != L + 1) throw std::logic_error("polyeval plan: raw value misplaced");
        if (v.three) ++plan->relins;
        ++plan->rescales;
        return {L, false};
    }
};

// Plain numbers, slot by slot: the float64 twin. Same operations in the same order as
// the ciphertext backend (2·(a·b) - k; Σ c·T in term order, then + c0; q·T_n, then + r;
// relinearization and rescaling change no value).
template <class T>
struct TwinBackend {
    using V = std::vector<T>;

    double scale(const V&) const { return 1; }
    double q(std::size_t) const { return 1; }
    V product(const V& tm, const V& tn, const V* tk, std::size_t) const {
        V r(tm.size());
        for (std::size_t i = 0; i < r.size(); ++i) r[i] = 2.0 * (tm[i] * tn[i]) - (tk ? (*tk)[i] : T(1.0));
        return r;
    }
    V leaf(const std::vector<std::pair<double, const V*>>& terms, double c0, std::size_t, double) const {
        V acc(terms.front().second->size());
        for (std::size_t t = 0; t < terms.size(); ++t)
            for (std::size_t i = 0; i < acc.size(); ++i) {
                const T v = terms[t].first * (*terms[t].second)[i];
                acc[i] = t == 0 ? v : acc[i] + v;
            }
        if (c0 != 0)
            for (T& a : acc) a += c0;
        return acc;
    }
    V tensor(const V& qv, const V& tn, std::size_t, double) const {
        V r(qv.size());
        for (std::size_t i = 0; i < r.size(); ++i) r[i] = qv[i] * tn[i];
        return r;
    }
    V finish(V v, std::size_t, double) const { return v; }
    void add(V& a, const V& b) const {
        for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
    }
    void add_const(V& a, double c) const {
        for (T& x : a) x += c;
    }
};

// Ciphertexts. Every operation is between operands at one level: higher operands are
// dropped (free), never aligned by multiplication.
struct CkksBackend {
    using V = Ciphertext;
    const Evaluator& ev;
    const Params& P;

    double scale(const V& v) const { return v.scale; }
    double q(std::size_t level) const { return static_cast<double>(P.q(level)); }

    // The bookkeeping scale after a planned rescale equals the target up to float64
    // rounding; pin it to the target exactly.
    static void pin_scale(Ciphertext& a, double target) {
        if (std::fabs(a.scale / target - 1) > 1e-12)
            throw std::logic_error("polyeval: scale " + scale_str(a.scale) + " missed its target " + scale_str(target));
        a.scale = target;
    }
    V product(const V& tm, const V& tn, const V* tk, std::size_t) const {
        const std::size_t L = std::min(tm.level, tn.level);
        Ciphertext p = ev.multiply_at(tm, tn, L);
        ev.mul_int_inplace(p, 2);
        if (tk)
            ev.add_scaled_inplace(p, *tk, -1.0);  // -1 encoded at scale(p)/scale(T_k) ≈ Δ
        else
            ev.add_const_inplace(p, -1.0);
        ev.relinearize_inplace(p);
        ev.rescale_inplace(p);
        // T_j's scale is scale(T_m)·scale(T_n)/q: it stays near the primes only if the
        // input's scale is near them. Refuse a collapse (no precision left) or a blow-up
        // (the message would wrap modulo Q_level).
        double log_q = 0;
        for (std::size_t i = 0; i <= p.level; ++i) log_q += std::log2(q(i));
        if (!(p.scale >= 1048576.0) || !(std::log2(p.scale) + 8 < log_q))
            fail("evaluate_chebyshev", "a power of the basis reached scale " + scale_str(p.scale) + " at level " +
                                           std::to_string(p.level) + ": give the input at a scale close to the primes " +
                                           "of the levels it crosses (the nominal scale on scale levels)");
        return p;
    }
    V leaf(const std::vector<std::pair<double, const V*>>& terms, double c0, std::size_t L, double S) const {
        const double meet = S * q(L + 1);  // every term at this scale before the rescale
        std::vector<std::pair<double, const Ciphertext*>> ts;
        for (const auto& t : terms) {
            if (t.second->level < L + 1) throw std::logic_error("polyeval: operand below its planned level");
            if (!(meet / t.second->scale >= 1))
                fail("evaluate_chebyshev", "a power of the basis reached scale " + scale_str(t.second->scale) +
                                               ", above its leaf's scale " + scale_str(meet) +
                                               ": give the input at a scale close to the primes of the levels it "
                                               "crosses (the nominal scale on scale levels)");
            ts.emplace_back(t.first, t.second);
        }
        // One pass over each term: Σ round(c·meet/scale(T))·T, as term-wise constant
        // multiplications and additions would give (bit for bit).
        Ciphertext acc = ev.weighted_sum(ts, L + 1, meet);
        if (c0 != 0) ev.add_const_inplace(acc, c0);
        return acc;
    }
    V tensor(const V& qv, const V& tn, std::size_t L, double S) const {
        Ciphertext p = ev.multiply_at(qv, tn, L + 1);  // scale (S·q_{L+1}/scale(T_n))·scale(T_n)
        pin_scale(p, S * q(L + 1));
        return p;
    }
    V finish(V v, std::size_t, double S) const {
        ev.relinearize_inplace(v);  // no-op on 2 parts
        ev.rescale_inplace(v);
        pin_scale(v, S);
        return v;
    }
    void add(V& a, const V& b) const { ev.add_inplace(a, b); }
    void add_const(V& a, double c) const { ev.add_const_inplace(a, c); }
};

bool alpha_is_integer(const ChebyshevPoly& p) {
    const double al = p.alpha();
    return al == std::nearbyint(al) && al >= 1 && al <= 1048576.0;
}

bool is_unit_interval(const ChebyshevPoly& p) { return p.a == -1 && p.b == 1; }

long effective_degree_of(const ChebyshevPoly& p);

// Degree 1 with a map that would cost a level: c_0 + c_1·(α·x + β) is evaluated as
// (c_1·α)·x + (c_0 + c_1·β), one constant multiplication.
bool folds_linear(const ChebyshevPoly& p) {
    return !is_unit_interval(p) && !alpha_is_integer(p) && effective_degree_of(p) == 1;
}

void check_poly(const ChebyshevPoly& p, const char* op) {
    if (!(p.a < p.b) || !std::isfinite(p.a) || !std::isfinite(p.b))
        fail(op, "interval [" + std::to_string(p.a) + ", " + std::to_string(p.b) + "] is empty or not finite");
    if (effective_degree_of(p) < 1)
        fail(op, "the polynomial has degree " + std::to_string(effective_degree_of(p)) + " (parity " +
                     parity_name(p.parity) + " applied)" +
                     "; a constant needs no homomorphic evaluation (add it with add_const_inplace)");
    for (double c : p.coeffs)
        if (!std::isfinite(c)) fail(op, "a coefficient is not finite");
}

// Coefficients with trailing zeros dropped and the declared parity enforced.
std::vector<double> working_coeffs(const ChebyshevPoly& p) {
    std::vector<double> c = p.coeffs;
    if (p.parity != Parity::None)
        for (std::size_t j = (p.parity == Parity::Odd ? 0 : 1); j < c.size(); j += 2) c[j] = 0;
    c.resize(static_cast<std::size_t>(std::max(0L, effective_degree(c) + 1)));
    return c;
}

long effective_degree_of(const ChebyshevPoly& p) { return effective_degree(working_coeffs(p)); }

// Dry run at log_baby = l with a virtual input level: fills the counters of `plan`.
void count_plan(const std::vector<double>& c, int l, int poly_depth, PolyEvalPlan& plan) {
    CountBackend be{&plan, std::size_t{1} << l};
    const std::size_t y_level = static_cast<std::size_t>(poly_depth);
    Engine<CountBackend> eng(be, CountBackend::V{y_level}, y_level, l);
    const auto root = eng.eval(c, poly_depth, 1.0);
    if (root.is_const || root.v.level != 0) throw std::logic_error("polyeval plan: output not at the planned depth");
    plan.ct_mults = plan.power_mults + plan.tree_mults;
}

// The baby-step exponent: the requested one, or the one with the fewest ct×ct products
// (then the fewest relinearizations, then constant multiplications, then the smallest).
int choose_log_baby(const std::vector<double>& c, int poly_depth, int requested) {
    if (requested > 0) {
        if (requested > 20) fail("polyeval", "log_baby " + std::to_string(requested) + " is too large (at most 20)");
        return requested;
    }
    int best = 1;
    PolyEvalPlan best_plan;
    for (int l = 1; l <= std::max(1, poly_depth); ++l) {
        PolyEvalPlan pl;
        count_plan(c, l, poly_depth, pl);
        const auto key = [](const PolyEvalPlan& x) { return std::make_tuple(x.ct_mults, x.relins, x.const_mults); };
        if (l == 1 || key(pl) < key(best_plan)) {
            best = l;
            best_plan = pl;
        }
    }
    return best;
}

template <class T>
T clenshaw(const ChebyshevPoly& p, T x) {
    const T y = p.alpha() * x + p.beta();
    T b1(0.0), b2(0.0);
    for (std::size_t k = p.coeffs.size(); k-- > 1;) {
        const bool skip = (p.parity == Parity::Odd && k % 2 == 0) || (p.parity == Parity::Even && k % 2 == 1);
        const T b0 = (skip ? 0.0 : p.coeffs[k]) + 2.0 * y * b1 - b2;
        b2 = b1;
        b1 = b0;
    }
    const double c0 = p.coeffs.empty() || p.parity == Parity::Odd ? 0.0 : p.coeffs[0];
    return c0 + y * b1 - b2;
}

template <class T>
std::vector<T> twin(const ChebyshevPoly& p, const std::vector<T>& x, const PolyEvalOptions& opt) {
    check_poly(p, "evaluate_chebyshev_twin");
    if (x.empty()) return {};
    const std::vector<double> c = working_coeffs(p);
    const int depth = chebyshev_depth(static_cast<int>(c.size()) - 1);
    const int l = choose_log_baby(c, depth, opt.log_baby);
    if (folds_linear(p)) {
        const double c1 = c[1] * p.alpha(), c0 = c[0] + c[1] * p.beta();  // the linear fold
        std::vector<T> r(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) r[i] = c1 * x[i] + c0;
        return r;
    }
    // The change of variable as the ciphertext path does it: α·x, then + β.
    std::vector<T> y(x);
    if (!is_unit_interval(p)) {
        const double al = p.alpha(), be = p.beta();
        for (T& v : y) {
            if (al != 1) v = al * v;
            if (be != 0) v += be;
        }
    }
    TwinBackend<T> backend;
    const std::size_t y_level = static_cast<std::size_t>(depth);
    Engine<TwinBackend<T>> eng(backend, std::move(y), y_level, l);
    return eng.eval(c, depth, 1.0).v;
}

}  // namespace

const char* parity_name(Parity p) {
    switch (p) {
        case Parity::Even: return "even";
        case Parity::Odd: return "odd";
        default: return "none";
    }
}

// ================================================================ float64 side

double ChebyshevPoly::eval(double x) const { return clenshaw(*this, x); }
cplx ChebyshevPoly::eval(cplx x) const { return clenshaw(*this, x); }

ChebyshevPoly ChebyshevPoly::on_unit_interval() const {
    ChebyshevPoly u = *this;
    u.a = -1;
    u.b = 1;
    return u;
}

Parity detect_parity(const std::vector<double>& coeffs, double tol) {
    double mx = 0, even = 0, odd = 0;
    for (std::size_t k = 0; k < coeffs.size(); ++k) {
        const double a = std::fabs(coeffs[k]);
        mx = std::max(mx, a);
        if (k % 2)
            odd = std::max(odd, a);
        else
            even = std::max(even, a);
    }
    if (mx == 0) return Parity::None;
    if (odd <= tol * mx) return Parity::Even;
    if (even <= tol * mx) return Parity::Odd;
    return Parity::None;
}

ChebyshevPoly chebyshev_interpolate(const std::function<double(double)>& f, double a, double b, int degree,
                                    Parity declared) {
    if (degree < 1) fail("chebyshev_interpolate", "degree " + std::to_string(degree) + " < 1");
    if (!(a < b) || !std::isfinite(a) || !std::isfinite(b))
        fail("chebyshev_interpolate", "interval [" + std::to_string(a) + ", " + std::to_string(b) + "] is empty");
    const std::size_t n = static_cast<std::size_t>(degree) + 1;
    const double mid = (a + b) / 2, half = (b - a) / 2;
    // Node i: y_i = cos(π (2i+1) / (2n)) = cos(2π (2i+1) / (4n)), reduced exactly as integers.
    auto cos_pi_over_2n = [n](std::size_t m) { return det::cos_2pi_ratio(m, 4 * n); };
    std::vector<double> fx(n);
    for (std::size_t i = 0; i < n; ++i) fx[i] = f(mid + half * cos_pi_over_2n(2 * i + 1));
    ChebyshevPoly p;
    p.a = a;
    p.b = b;
    p.coeffs.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
        DoubleDouble s;
        for (std::size_t i = 0; i < n; ++i) s = dd_add(s, dd_prod(fx[i], cos_pi_over_2n(k * (2 * i + 1))));
        p.coeffs[k] = dd_div(s, DoubleDouble{static_cast<double>(n) / (k == 0 ? 1 : 2), 0}).value();
    }
    p.parity = declared;
    if (declared != Parity::None)
        for (std::size_t k = (declared == Parity::Odd ? 0 : 1); k < n; k += 2) p.coeffs[k] = 0;
    return p;
}

ChebyshevPoly chebyshev_interpolate(const std::function<double(double)>& f, double a, double b, int degree) {
    ChebyshevPoly p = chebyshev_interpolate(f, a, b, degree, Parity::None);
    const bool symmetric = std::fabs(a + b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b));
    if (!symmetric) return p;
    const Parity par = detect_parity(p.coeffs);
    if (par != Parity::None) {
        p.parity = par;
        for (std::size_t k = (par == Parity::Odd ? 0 : 1); k < p.coeffs.size(); k += 2) p.coeffs[k] = 0;
    }
    return p;
}

double chebyshev_max_error(const ChebyshevPoly& p, const std::function<double(double)>& f, int points) {
    if (points < 2) fail("chebyshev_max_error", "need at least 2 points, got " + std::to_string(points));
    double e = 0;
    for (int i = 0; i < points; ++i) {
        const double x = i == points - 1 ? p.b : p.a + (p.b - p.a) * i / (points - 1);
        e = std::max(e, std::fabs(p.eval(x) - f(x)));
    }
    return e;
}

// ================================================================ depth and plan

int chebyshev_depth(int degree) {
    if (degree < 1) fail("chebyshev_depth", "degree " + std::to_string(degree) + " < 1");
    return ceil_log2(static_cast<std::size_t>(degree) + 1);
}

int affine_depth(const ChebyshevPoly& p) {
    return is_unit_interval(p) || alpha_is_integer(p) || folds_linear(p) ? 0 : 1;
}

int polyeval_depth(const ChebyshevPoly& p) {
    check_poly(p, "polyeval_depth");
    return affine_depth(p) + chebyshev_depth(static_cast<int>(effective_degree(working_coeffs(p))));
}

std::string PolyEvalPlan::summary() const {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "chebyshev degree %d (%s): baby steps 2^%d, depth %d = %d (change of variable) + %d, "
                  "level %zu -> %zu, ct×ct %d (powers %d incl. giant %d, tree %d), const mults %d, relins %d, rescales %d",
                  degree, parity_name(parity), log_baby, depth, affine_levels, poly_depth, input_level, output_level,
                  ct_mults, power_mults, giant_mults, tree_mults, const_mults, relins, rescales);
    return buf;
}

PolyEvalPlan plan_chebyshev(const ChebyshevPoly& p, std::size_t input_level, const PolyEvalOptions& opt) {
    check_poly(p, "plan_chebyshev");
    const std::vector<double> c = working_coeffs(p);
    PolyEvalPlan plan;
    plan.degree = static_cast<int>(c.size()) - 1;
    plan.parity = p.parity != Parity::None ? p.parity : detect_parity(c, 0.0);
    plan.poly_depth = chebyshev_depth(plan.degree);
    plan.log_baby = choose_log_baby(c, plan.poly_depth, opt.log_baby);
    plan.affine_levels = affine_depth(p);
    plan.depth = plan.affine_levels + plan.poly_depth;
    if (input_level < static_cast<std::size_t>(plan.depth))
        fail("plan_chebyshev", "the input is at level " + std::to_string(input_level) + " but a degree-" +
                                   std::to_string(plan.degree) + " polynomial on [" + std::to_string(p.a) + ", " +
                                   std::to_string(p.b) + "] needs " + std::to_string(plan.depth) +
                                   " levels; bootstrap first or lower the degree");
    plan.input_level = input_level;
    plan.output_level = input_level - static_cast<std::size_t>(plan.depth);
    count_plan(c, plan.log_baby, plan.poly_depth, plan);
    if (plan.affine_levels) {
        ++plan.const_mults;
        ++plan.rescales;
    }
    return plan;
}

// ================================================================ evaluation

Ciphertext evaluate_chebyshev(const Evaluator& ev, const Ciphertext& x, const ChebyshevPoly& p,
                              const PolyEvalOptions& opt, PolyEvalPlan* plan_out) {
    const PolyEvalPlan plan = plan_chebyshev(p, x.level, opt);
    if (x.size() != 2) fail("evaluate_chebyshev", "the input must be relinearized (2 parts), found " + std::to_string(x.size()));
    const Params& P = *ev.params();
    const double target = opt.target_scale > 0 ? opt.target_scale : P.nominal_scale(plan.output_level);

    // Degree 1 off [-1, 1] with a non-integer α: the change of variable folded into the
    // single constant multiplication.
    if (folds_linear(p)) {
        const std::vector<double> c = working_coeffs(p);
        const double meet = target * static_cast<double>(P.q(x.level));
        Ciphertext r = x;
        ev.mul_const_inplace(r, c[1] * p.alpha(), meet / r.scale);
        r.scale = meet;
        const double c0 = c[0] + c[1] * p.beta();
        if (c0 != 0) ev.add_const_inplace(r, c0);
        ev.rescale_inplace(r);
        CkksBackend::pin_scale(r, target);
        if (plan_out) *plan_out = plan;
        return r;
    }
    // 1. y = α·x + β; with a level, y lands at the nominal scale of level - 1.
    Ciphertext y = x;
    if (plan.affine_levels) {
        const std::size_t L = x.level;
        const double sy = P.nominal_scale(L - 1), meet = sy * static_cast<double>(P.q(L));
        ev.mul_const_inplace(y, p.alpha(), meet / y.scale);
        y.scale = meet;
        if (p.beta() != 0) ev.add_const_inplace(y, p.beta());
        ev.rescale_inplace(y);
        CkksBackend::pin_scale(y, sy);
    } else if (!is_unit_interval(p)) {
        if (p.alpha() != 1) ev.mul_int_inplace(y, static_cast<long long>(p.alpha()));
        if (p.beta() != 0) ev.add_const_inplace(y, p.beta());
    }

    // 2-4. Powers, split, leaves, all in the engine.
    CkksBackend be{ev, P};
    const std::size_t y_level = y.level;
    Engine<CkksBackend> eng(be, std::move(y), y_level, plan.log_baby);
    auto root = eng.eval(working_coeffs(p), plan.poly_depth, target);
    if (root.v.level != plan.output_level || root.v.scale != target)
        throw std::logic_error("evaluate_chebyshev: result at level " + std::to_string(root.v.level) + ", scale " +
                               scale_str(root.v.scale) + "; planned " + std::to_string(plan.output_level) + ", " +
                               scale_str(target));
    if (plan_out) *plan_out = plan;
    return std::move(root.v);
}

std::vector<double> evaluate_chebyshev_twin(const ChebyshevPoly& p, const std::vector<double>& x,
                                            const PolyEvalOptions& opt) {
    return twin(p, x, opt);
}

std::vector<cplx> evaluate_chebyshev_twin(const ChebyshevPoly& p, const std::vector<cplx>& x,
                                          const PolyEvalOptions& opt) {
    return twin(p, x, opt);
}

double evaluate_chebyshev_twin(const ChebyshevPoly& p, double x, const PolyEvalOptions& opt) {
    return twin(p, std::vector<double>{x}, opt)[0];
}

}  // namespace bt::ckks
