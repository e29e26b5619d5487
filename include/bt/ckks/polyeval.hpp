// Polynomial evaluation in the Chebyshev basis: interpolation in float64 and
// homomorphic evaluation with baby-step giant-step, depth-optimal and scale-exact.
//
// A ChebyshevPoly is p(x) = Σ_{k<=d} c_k T_k(y), y = α·x + β the affine map of [a, b]
// onto [-1, 1] (α = 2/(b-a), β = -(a+b)/(b-a)). Interpolation uses the d+1 Chebyshev
// nodes of the first kind and the exact DCT formula, so p interpolates f at the nodes.
//
// Homomorphic evaluation (Bossuat, Mouchet, Troncoso-Pastoriza, Hubaux, "Efficient
// Bootstrapping for Approximate Homomorphic Encryption with Non-Sparse Keys",
// EUROCRYPT 2021, §4; Han–Ki, "Better Bootstrapping for Approximate Homomorphic
// Encryption", CT-RSA 2020):
//   1. y = α·x + β. Free when [a, b] = [-1, 1] or α is an integer (mul_int), otherwise
//      one level (a constant multiplication has to be rescaled). Callers that need the
//      last level fold the map into the step that produces x and interpolate on [-1, 1].
//   2. Power basis T_j on demand with T_{m+n} = 2·T_m·T_n - T_{m-n} (m = the largest
//      power of two below j, so T_j has depth ⌈log2 j⌉; T_{2n} = 2·T_n² - 1): baby steps
//      T_1 … T_{2^l - 1}, giant steps T_{2^l}, T_{2^(l+1)}, … Only the indices a leaf or
//      a recurrence needs are computed: odd/even polynomials never touch the other parity.
//   3. Recursive split p = q·T_n + r (n the largest power of two <= deg p), with
//      T_{n+j} = 2·T_j·T_n - T_{n-j}: q_0 = c_n, q_j = 2·c_{n+j}, r_{n-j} -= c_{n+j}.
//      A part of degree < 2^l whose powers are shallow enough for the remaining depth is
//      a leaf: Σ c_j·T_j, one constant multiplication per term. Leaves and products are
//      summed before rescaling (q·T_n + r: r is built at the unrescaled level and scale
//      of the product), so a chain of remainders costs one relinearization and one
//      rescale.
//      Depth bookkeeping: a node that must finish at depth D may be a leaf only if every
//      T_j it uses has depth <= D-1; otherwise it is split again, also below 2^l. The
//      chain of leading quotients is therefore split down to degree 1 ("tight" nodes),
//      while remainders, which have one level of slack, stop at the baby steps. The
//      polynomial part has depth exactly ⌈log2(d+1)⌉, the optimum.
//   4. Scale-exact (Bossuat et al., Algorithm 2): every node receives a target level and
//      target scale S. A leaf encodes c_j at scale S·q_{L+1}/scale(T_j), so all terms
//      meet at S·q_{L+1} and land at S after one rescale; a product node asks for q at
//      scale S·q_{L+1}/scale(T_n). The result has exactly the requested scale (default:
//      the nominal scale of the output level), with no alignment by the evaluator.
// Every ciphertext operation is between operands at the same level; no level is spent
// by automatic alignment.
//
// The float64 twin runs the very same engine (same split, same recurrences, same order
// of operations) on doubles or complex doubles instead of ciphertexts, so an encrypted
// result can be compared with it to the CKKS noise level.
#pragma once

#include "bt/ckks/ciphertext.hpp"
#include "bt/ckks/encoder.hpp"
#include "bt/ckks/evaluator.hpp"

#include <functional>
#include <string>
#include <vector>

namespace bt::ckks {

enum class Parity : int { None = 0, Even = 1, Odd = 2 };
const char* parity_name(Parity p);

// ---------------------------------------------------------------- float64 side

struct ChebyshevPoly {
    double a = -1, b = 1;          // the interval [a, b] of x
    std::vector<double> coeffs;    // c_0 … c_d in the basis T_k(α·x + β)
    Parity parity = Parity::None;  // in y; Even/Odd: the other coefficients are ignored (taken as 0)

    int degree() const { return static_cast<int>(coeffs.size()) - 1; }
    double alpha() const { return 2 / (b - a); }
    double beta() const { return -(a + b) / (b - a); }
    // p(x) by Clenshaw's recurrence, float64.
    double eval(double x) const;
    cplx eval(cplx x) const;
    // The same coefficients on [-1, 1]: evaluates p at y = α·x + β given y. For callers
    // that fold the change of variable into the step producing x (saves its level).
    ChebyshevPoly on_unit_interval() const;
};

// Interpolates f on [a, b] at degree d >= 1 (d+1 Chebyshev nodes, exact DCT):
//     c_k = (2 - [k=0]) / (d+1) · Σ_{i<=d} f(x_i) cos(π k (i + 1/2) / (d+1)).
// Parity: detected (on a symmetric interval only, coefficients of the other parity
// below 1e-12 · max|c_k| are set to 0) unless declared; a declared parity zeroes the
// other coefficients. Throws std::invalid_argument on d < 1 or a >= b.
ChebyshevPoly chebyshev_interpolate(const std::function<double(double)>& f, double a, double b, int degree);
ChebyshevPoly chebyshev_interpolate(const std::function<double(double)>& f, double a, double b, int degree,
                                    Parity declared);
// Even/Odd if every coefficient of the other parity is at most tol · max|c_k|.
Parity detect_parity(const std::vector<double>& coeffs, double tol = 1e-12);
// max |p(x) - f(x)| over `points` equally spaced points of [a, b], ends included.
double chebyshev_max_error(const ChebyshevPoly& p, const std::function<double(double)>& f, int points = 10000);

// ---------------------------------------------------------------- depth and plan

// Depth of the polynomial part: ⌈log2(d+1)⌉ (d >= 1).
int chebyshev_depth(int degree);
// Levels spent by the change of variable: 0 if [a, b] = [-1, 1] or α is an integer, else 1.
int affine_depth(const ChebyshevPoly& p);
// Total levels consumed by evaluate_chebyshev: affine_depth + chebyshev_depth(degree).
int polyeval_depth(const ChebyshevPoly& p);

struct PolyEvalOptions {
    int log_baby = 0;         // baby steps T_1 … T_{2^log_baby}; 0: the value minimizing ct×ct products
    double target_scale = 0;  // scale of the result; 0: nominal scale of the output level
};

struct PolyEvalPlan {
    int degree = 0;             // effective degree (trailing zero coefficients dropped)
    Parity parity = Parity::None;
    int log_baby = 0;           // l: baby steps up to 2^l
    int affine_levels = 0;      // 0 or 1
    int poly_depth = 0;         // ⌈log2(d+1)⌉
    int depth = 0;              // affine_levels + poly_depth = levels consumed
    std::size_t input_level = 0, output_level = 0;
    int power_mults = 0;        // ct×ct products building T_j (baby and giant steps)
    int giant_mults = 0;        //   of which giant steps T_{2^i}, 2^i >= 2^l
    int tree_mults = 0;         // ct×ct products q·T_n of the recursion
    int ct_mults = 0;           // power_mults + tree_mults (each: tensor, relinearize, rescale)
    int const_mults = 0;        // constant multiplications (leaf terms, change of variable)
    int relins = 0;             // relinearizations (a chain of products summed raw shares one)
    int rescales = 0;
    std::string summary() const;  // one line
};

// The plan for evaluating p on a ciphertext at `input_level` (dry run of the same engine
// on level counters). Throws if the input level is below the depth.
PolyEvalPlan plan_chebyshev(const ChebyshevPoly& p, std::size_t input_level, const PolyEvalOptions& opt = {});

// ---------------------------------------------------------------- evaluation

// p(x) slot-wise. x: a 2-part ciphertext at level >= polyeval_depth(p), at a scale close
// to the primes of the levels it crosses (on scale levels: its nominal scale; the powers
// T_j have scale(T_m)·scale(T_n)/q, and a collapse or blow-up throws); its values should
// lie in [a, b] (outside, T_k grows like (|y| + sqrt(y²-1))^k). The result is at level
// x.level - polyeval_depth(p) with scale exactly opt.target_scale (default: the nominal
// scale of that level). Needs the evaluator's relinearization key. Thread-safe (no state).
// Noise: the constants are rounded at ≈ the scale (relative 2^-40 at 2^40), so the
// result differs from the twin by the CKKS noise plus that rounding.
Ciphertext evaluate_chebyshev(const Evaluator& ev, const Ciphertext& x, const ChebyshevPoly& p,
                              const PolyEvalOptions& opt = {}, PolyEvalPlan* plan = nullptr);

// The float64 twin: the same steps on doubles (or complex doubles), slot by slot.
std::vector<double> evaluate_chebyshev_twin(const ChebyshevPoly& p, const std::vector<double>& x,
                                            const PolyEvalOptions& opt = {});
std::vector<cplx> evaluate_chebyshev_twin(const ChebyshevPoly& p, const std::vector<cplx>& x,
                                          const PolyEvalOptions& opt = {});
double evaluate_chebyshev_twin(const ChebyshevPoly& p, double x, const PolyEvalOptions& opt = {});

}  // namespace bt::ckks
