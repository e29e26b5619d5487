// Encrypted softmax-regression training (HETAL, Lee et al. ICML 2023; BlindTuner): the
// packing, the circuits, the level plan and the Nesterov step, written ONCE as a template
// over a backend. Two backends run it:
//   TwinBackend  float64 vectors of slots: the plaintext twin (same maths, same
//                polynomials, same rotations and masks, no encryption);
//   CkksBackend  CKKS ciphertexts (bt/ckks), with real or stand-in bootstrapping.
// So the encrypted run and its twin cannot drift apart by construction; the only
// differences are CKKS noise and bootstrapping error.
//
// ---------------------------------------------------------------- packing
// Features X (rows × cols, cols = d + 1 with the bias column), classes c padded to
// c' = next power of two >= c. A ciphertext of n slots holds a block of s0 × s1 slots,
// s1 = next power of two >= cols + c' − 1, s0 = n / s1 rows: slot r·s1 + o + j = X[r][j]
// with the column offset o = c' − 1 (the first o columns of every row are zero; the
// diagonal product below reads up to c' − 1 columns past a row's end into them).
// The head W (c' × cols, padded rows zero) is TILED with the same column offset: slot p
// holds W[(p / s1) mod c'][p mod s1 − o], i.e. the c'·s1-vector of W repeated n / (c'·s1)
// times. A tiled vector is exactly a sparse-packed ciphertext of c'·s1 slots, so W is
// bootstrapped with c'·s1 slots.
//
// Logits (X·Wᵀ), a diagonal method with ONE row reduction per block (cf. HETAL's DiagABT,
// Lee et al. ICML 2023, and the hoisted diagonal method of Halevi–Shoup 2014). Columns are
// indexed in the padded layout, m ∈ [o, o + cols); colmask_k keeps the real columns
// m ≡ k (mod c').
//   Wc = c·W̃ − Σ_k rot(W̃, k·s1)      centred head (integer constants; 1/c in the mask), so
//                                     every row's logits are centred on their mean
//   U  = Σ_k colmask_k ⊙ rot(Wc, k·s1) slot r·s1 + m holds Wc[(m + r) mod c'][m]
//   M_i = rot(U, i − i·s1), i < c'    slot r·s1 + j holds Wc[(j + r) mod c'][j + i]
//   T  = Σ_i rot(X, i) ⊙ M_i          baby-step giant-step, i = a + k·g (a < k, g < c'/k, k from
//                                     logit_baby_steps): rot(X, i) ⊙ M_i = rot(rot(X, a) ⊙ M'_i, k·g)
//                                     with M'_i = rot(M_i, −k·g) = rot(U, a − i·s1) (hoisted, on the
//                                     one head), so T = Σ_g rot(T_g, k·g), T_g = Σ_a rot(X, a) ⊙ M'_i:
//                                     per block k − 1 hoisted rotations of X (cached per batch when
//                                     memory allows), c'/k relinearizations (each T_g's k tensor
//                                     products summed in one pass first) and c'/k − 1 rotations,
//                                     instead of c' − 1 rotations of X
//   R  = Σ_t rot(T, t·c'), t < s1/c'  (log2(s1/c') rotations) slot r·s1 + k holds
//                                     Σ_m X[r][m]·Wc[(k + r) mod c'][m] = Z[r][(r + k) mod c']
// (every column m of row r is met exactly once: m = k + t·c' + i; the terms past the row
// end fall on the next row's zero offset columns). So slot r·s1 + k holds the logit of class
// (r + k) mod c' ("diagonal k"), the layout the softmax and the labels use.
// The c' diagonals of the `blocks` X-ciphertexts of a batch are masked (keeping slots
// r·s1 + k, k < c', pad classes zeroed, scaled by 1/(c·V)) and merged into ONE ciphertext:
// block b goes to offset b·2c' of each row (one rotation). Softmax then runs on that
// single ciphertext; its group sums are rotate-and-add over windows of c' after a
// duplication v + rot(v, −c') (so every offset of a group sees its whole group).
//
// Softmax, shift-invariant and range-safe without a maximum (all intervals computed from
// the bound V on |z − mean z|, checked by the debug range probe):
//   t  = (z − mean)/V ∈ [−1, 1]           (pad classes: t = −1)
//   E  = exp(V·t/4)                       Chebyshev, [−1, 1]
//   y  = E / Σ E                           coarse inverse of the group sum (any per-row
//                                          factor cancels later), then BOOTSTRAP (full slots)
//   z  = y² / Σ y²,  P = z² / Σ z²         squaring twice: softmax(v/4) -> softmax(v/2) ->
//                                          softmax(v); Σ y² ∈ [1/c', 1] whatever V, so both
//                                          inverses work on [a, a + 1] (affine map free)
// Gradient (the transposed product (P − Y)ᵀ·X, already tiled like W): D = P − Y (Y packed
// by the client in the merged layout); per block, D is brought to offset 0 (one rotation),
// masked (η/B, valid rows, real classes) and replicated along its row with period c'
// (log2(s1/c') rotations): E[r·s1 + j] = D[r][(r + j) mod c']. Then
//   Q_i = Σ_blocks X ⊙ rot(E, −i), i < c'    slot r·s1 + m: X[r][m]·D[r][(r + m − i) mod c']; with
//                                             i = a + k·g: Q_i = rot(Σ_blocks rot(X, a) ⊙ rot(E, −k·g), −a),
//                                             where rot(X, a) are the logits' baby steps of the same
//                                             step, kept at this level: per block c'/k − 1 hoisted
//                                             rotations of E; one relinearization and one rotation
//                                             (a > 0) per i for all blocks
//   A_u = Σ_k colmask_k ⊙ Q_{(k + u) mod c'}  u < c' (one rescale each)
//   G̃  = Σ_t rot(Σ_u rot(A_u, u·s1), t·c'·s1), t < s0/c'
// Slot r'·s1 + m of G̃ sums, over every row r ≡ r' + u, the term of class
// (r + m − i) ≡ r' (i ≡ u + m): G[r' mod c'][m], tiled.
// Nesterov (Kim et al. 2018, as in plain.hpp): W_{t+1} = V_t − η·G(V_t) is bootstrapped
// (sparse, c'·s1 slots); V_{t+1} = (1 + γ_t)·W_{t+1} − γ_t·W_t (one level).
// Per step: one sparse bootstrap (the weights) and one full bootstrap (the softmax).
#pragma once

#include "bt/ckks/bootstrap.hpp"
#include "bt/ckks/polyeval.hpp"
#include "bt/train/plain.hpp"

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace bt::train {

// Version of the client's packing of X, Y and W described above (2: column offset c' − 1,
// one row reduction per block). A job records it; a server refuses another layout.
constexpr int kPackingLayout = 2;

// Training sets whose hoisted rotations of X ((c' − 1)·blocks ciphertexts per batch,
// 176 MB per batch for the shipped shape at N = 2^16) fit in this budget keep them between
// epochs; larger ones recompute them at every step (a few hoisted rotations per block).
constexpr std::size_t kRotationCacheBytes = std::size_t{2} << 30;

// In a plan's rotation steps (dry_run_step, rotation_levels), this value stands for the
// conjugation (Galois element 2N − 1): a rotation step is never 0.
constexpr long kConjugateStep = 0;

// ---------------------------------------------------------------- shape
struct EncShape {
    std::size_t slots = 0;   // n
    std::size_t d = 0;       // features without the bias
    std::size_t cols = 0;    // d + 1
    std::size_t s1 = 0;      // next power of two >= cols + c' − 1 (and >= 2c')
    std::size_t s0 = 0;      // slots / s1
    int c = 0;               // classes
    std::size_t cpad = 0;    // c' = next power of two >= c (at least 2)
    std::size_t blocks = 0;  // X ciphertexts per batch
    std::size_t batch = 0;   // rows per batch (<= blocks·s0)

    std::size_t window() const { return 2 * cpad; }
    std::size_t xoff() const { return cpad - 1; }  // column of X[·][0] and W[·][0] in a row
    std::size_t tile_slots() const { return cpad * s1; }
    // Slot p of a tiled head holds a weight (a real class, a real column), in any copy of the tile.
    bool is_head_weight(std::size_t p) const {
        const std::size_t q = p % tile_slots(), row = q / s1, col = q % s1;
        return row < static_cast<std::size_t>(c) && col >= xoff() && col < xoff() + cols;
    }
    std::size_t offset(std::size_t b, std::size_t i) const { return b * window() + i; }
    // Validates; throws std::invalid_argument naming the constraint that fails.
    static EncShape make(std::size_t slots, std::size_t d, int classes, std::size_t batch);
    std::string describe() const;
};

// ---------------------------------------------------------------- softmax polynomials
struct SoftmaxConfig {
    double V = 20;          // bound on |z − mean z| (logit spread), checked by the range probe
    int exp_degree = 0;     // exp(V t / 4) on [−1, 1]; 0: smallest 2^k − 1 with relative error < 1e-7
    int coarse_degree = 15; // 1/x on the first group sum (a per-row factor: coarse is enough)
    int inv1_degree = 7;    // 1/x on Σ y² (a per-row factor again)
    int inv2_degree = 31;   // 1/x on Σ z² (the final normalisation: this one sets the precision; its
                            // interval covers twice the valid sums, see plan.cpp: degree 31 keeps
                            // the relative error at 1.5e-2 for V = 24, c = 10)
};

struct SoftmaxPolys {
    SoftmaxConfig cfg;
    int c = 0;
    std::size_t cpad = 0;
    ckks::ChebyshevPoly exp_p;    // on [−1, 1]; includes the factor alpha_g
    ckks::ChebyshevPoly coarse_p; // on [−1, 1] in u = alpha_g·S + beta_g; includes 1/alpha_g
    ckks::ChebyshevPoly inv1_p;   // on [a1, a1 + 1] (α = 2: free change of variable)
    ckks::ChebyshevPoly inv2_p;   // on [a2, a2 + 1]
    double alpha_g = 1, beta_g = 0;
    double s_lo = 0, s_hi = 0;    // interval of the first group sum Σ E
    double coarse_rel_err = 0;    // max relative error of the coarse inverse on [s_lo, s_hi]
    double inv1_rel_err = 0, inv2_rel_err = 0;
    double exp_err = 0;           // max |p − exp| on [−1, 1], relative to e^(V/4)
    static SoftmaxPolys build(const SoftmaxConfig& cfg, int c, std::size_t cpad);
    std::string describe() const;
};

// Float64 reference of the same softmax (same polynomials, no packing) for one row of
// logits: used to test the circuit and to explain the twin's deviation from exact softmax.
std::vector<double> poly_softmax_row(const SoftmaxPolys& sp, const std::vector<double>& z);

// ---------------------------------------------------------------- level plan
struct LevelPlan {
    std::size_t L = 0;  // level of a freshly bootstrapped ciphertext
    // Levels at the end of each stage of a step (computed from the circuit depths).
    std::size_t v_level = 0, w_level = 0, logits_level = 0, exp_level = 0, y_level = 0;
    std::size_t m_level = 0;  // the head's diagonals M_i (rotated at x_level, where X is)
    std::size_t z_level = 0, p_level = 0, d_level = 0, grad_level = 0, x_level = 0, y_label_level = 0;
    int stage1_depth = 0, stage2_depth = 0;
    bool feasible = false;
    std::string problem;  // why not, if not
    static LevelPlan make(const SoftmaxPolys& sp, std::size_t L);
    std::string describe() const;
};

// ---------------------------------------------------------------- counts and timing
enum class Stage : int { MatMul = 0, Softmax = 1, Bootstrap = 2, Update = 3, Other = 4 };
constexpr int kStages = 5;
const char* stage_name(Stage s);

struct OpCounts {
    std::size_t ct_mults = 0, plain_mults = 0, const_mults = 0, rotations = 0, hoisted_rotations = 0;
    std::size_t relins = 0;  // relinearizations (sums of tensor products share one)
    std::size_t boot_full = 0, boot_sparse = 0, polyevals = 0;
    OpCounts& operator+=(const OpCounts& o);
    std::string describe() const;
};

// Ranges measured by the debug probe (twin: always; encrypted: with a decryptor).
struct RangeStats {
    double t_max = 0;                   // max |t| at valid positions (must be <= 1)
    double s_min = 1e300, s_max = 0;    // first group sum (must lie in [s_lo, s_hi])
    double q1_min = 1e300, q1_max = 0;  // Σ y² (in [a1, a1 + 1])
    double q2_min = 1e300, q2_max = 0;  // Σ z² (in [a2, a2 + 1])
    void merge(const RangeStats& o);
    bool within(const SoftmaxPolys& sp) const;
    std::string describe(const SoftmaxPolys& sp) const;
};

// ---------------------------------------------------------------- masks
struct Mask {
    std::string key;            // identifies the mask (cache key for its encodings)
    std::vector<double> v;      // slots
};

// ---------------------------------------------------------------- backends
// Float64 twin: every "ciphertext" is the vector of its slots.
class TwinBackend {
public:
    using Ct = std::vector<double>;
    explicit TwinBackend(std::size_t slots, std::size_t sparse_slots);
    Ct rotate(const Ct& a, long k);
    std::vector<Ct> rotate_hoisted(const Ct& a, const std::vector<long>& steps);
    Ct rotate_and_sum(const Ct& a, std::size_t window, long stride);
    Ct mul(const Ct& a, const Ct& b);
    Ct mul_mask(const Ct& a, const Mask& m);
    // Products to be summed and then finished once (CKKS: tensor product without
    // relinearization / plaintext product without rescale).
    Ct mul_lazy(const Ct& a, const Ct& b);
    Ct mask_lazy(const Ct& a, const Mask& m);
    // Σ_t a_t ⊙ b_t, products to be finished once (mul_lazy of each pair summed in order).
    Ct mul_sum_lazy(const std::vector<std::pair<const Ct*, const Ct*>>& terms);
    // a + i·b for real a, b (CKKS slots are complex): here the 2n values a then b, which the
    // rotations, masks and sums below act on half by half.
    Ct add_times_i(const Ct& a, const Ct& b);
    // (z + z̄, i·(z̄ − z)) = (2·Re z, 2·Im z): one conjugation.
    std::pair<Ct, Ct> split_complex(const Ct& z);
    Ct relin_rescale(const Ct& a) { ++counts.relins; return a; }
    Ct rescale(const Ct& a) { return a; }
    Ct mul_const(const Ct& a, double c);
    Ct mul_mask_const(const Ct& a, const Mask& m, double c);  // a ⊙ (c·m), one level (c changes per call: not cached)
    Ct mul_int(const Ct& a, long long k);
    Ct add(const Ct& a, const Ct& b);
    Ct sub(const Ct& a, const Ct& b);
    Ct add_mask(const Ct& a, const Mask& m);
    Ct add_const(const Ct& a, double c);
    Ct poly(const Ct& a, const ckks::ChebyshevPoly& p);
    Ct boot_full(const Ct& a);
    Ct boot_sparse(const Ct& a);
    Ct drop(const Ct& a, std::size_t) { return a; }
    std::size_t level(const Ct&) const { return 0; }
    std::size_t boot_level() const { return 0; }  // levels are not modelled
    // Debug probe: the slots themselves.
    bool can_probe() const { return true; }
    bool parallel_blocks() const { return false; }  // one thread: the sums in a fixed order
    std::vector<double> probe(const Ct& a) { return a; }
    void set_stage(Stage s) { stage_ = s; }
    const std::set<long>& rotation_steps() const { return steps_; }
    OpCounts counts;
    std::array<double, kStages> seconds{};

private:
    Ct rotated(const Ct& a, long k);  // records the step, no count
    std::size_t slots_, sparse_slots_;
    std::set<long> steps_;
    Stage stage_ = Stage::Other;
};

// Levels only: a ciphertext is its level, and each operation changes it exactly as the
// CKKS backend does (products and masks consume one, sums take the lower, polynomials their
// plan's depth, bootstraps return to `boot_level`). A step traced through it gives the
// highest level each rotation step is used at, so every training Galois key is generated
// for exactly the levels it serves (a key's size grows with its level).
class LevelBackend {
public:
    struct Ct {
        std::size_t level = 0;
    };
    LevelBackend(std::size_t slots, std::size_t boot_level) : slots_(slots), boot_level_(boot_level) {}
    Ct rotate(const Ct& a, long k);
    std::vector<Ct> rotate_hoisted(const Ct& a, const std::vector<long>& steps);
    Ct rotate_and_sum(const Ct& a, std::size_t window, long stride);
    Ct mul(const Ct& a, const Ct& b) { return {down(std::min(a.level, b.level))}; }
    Ct mul_mask(const Ct& a, const Mask&) { return {down(a.level)}; }
    Ct mul_lazy(const Ct& a, const Ct& b) { return {std::min(a.level, b.level)}; }
    Ct mask_lazy(const Ct& a, const Mask&) { return a; }
    Ct mul_sum_lazy(const std::vector<std::pair<const Ct*, const Ct*>>& terms);
    Ct add_times_i(const Ct& a, const Ct& b) { return {std::min(a.level, b.level)}; }
    std::pair<Ct, Ct> split_complex(const Ct& z);  // the conjugation's level, as step kConjugateStep
    Ct relin_rescale(const Ct& a) { return {down(a.level)}; }
    Ct rescale(const Ct& a) { return {down(a.level)}; }
    Ct mul_const(const Ct& a, double) { return {down(a.level)}; }
    Ct mul_mask_const(const Ct& a, const Mask&, double) { return {down(a.level)}; }
    Ct mul_int(const Ct& a, long long) { return a; }
    Ct add(const Ct& a, const Ct& b) { return {std::min(a.level, b.level)}; }
    Ct sub(const Ct& a, const Ct& b) { return {std::min(a.level, b.level)}; }
    Ct add_mask(const Ct& a, const Mask&) { return a; }
    Ct add_const(const Ct& a, double) { return a; }
    Ct poly(const Ct& a, const ckks::ChebyshevPoly& p);
    Ct boot_full(const Ct&) { return {boot_level_}; }
    Ct boot_sparse(const Ct&) { return {boot_level_}; }
    Ct drop(const Ct& a, std::size_t level) { return {std::min(a.level, level)}; }
    std::size_t level(const Ct& a) const { return a.level; }
    std::size_t boot_level() const { return boot_level_; }
    bool can_probe() const { return false; }
    bool parallel_blocks() const { return false; }
    std::vector<double> probe(const Ct&) { return {}; }
    void set_stage(Stage) {}
    // Normalised step (0 < step < slots) -> the highest level it was used at.
    const std::map<long, std::size_t>& step_levels() const { return levels_; }
    // Normalised step -> key switches with its key so far (hoisted rotations each count).
    const std::map<long, std::size_t>& step_uses() const { return uses_; }

private:
    std::size_t down(std::size_t l);  // one level consumed (throws below level 0)
    void use(long k, std::size_t level);
    std::size_t slots_, boot_level_;
    std::map<long, std::size_t> levels_, uses_;
};

// CKKS: ciphertexts; masks are encoded on first use per level and cached.
class CkksBackend {
public:
    using Ct = ckks::Ciphertext;
    CkksBackend(const ckks::Evaluator& ev, const ckks::Bootstrapper& full, const ckks::Bootstrapper& sparse,
                std::size_t sparse_slots);
    Ct rotate(const Ct& a, long k);
    std::vector<Ct> rotate_hoisted(const Ct& a, const std::vector<long>& steps);
    Ct rotate_and_sum(const Ct& a, std::size_t window, long stride);
    Ct mul(const Ct& a, const Ct& b);
    Ct mul_mask(const Ct& a, const Mask& m);
    Ct mul_lazy(const Ct& a, const Ct& b);      // tensor product: 3 parts, scale squared
    Ct mask_lazy(const Ct& a, const Mask& m);   // mask at the level's nominal scale, no rescale
    // Σ_t a_t ⊗ b_t in one pass (Evaluator::tensor_sum: the words of mul_lazy's summed).
    Ct mul_sum_lazy(const std::vector<std::pair<const Ct*, const Ct*>>& terms);
    Ct add_times_i(const Ct& a, const Ct& b);   // a + i·b (the monomial X^(N/2): exact, no level)
    std::pair<Ct, Ct> split_complex(const Ct& z);  // (2·Re z, 2·Im z): one conjugation
    Ct relin_rescale(Ct a);                     // a sum of mul_lazy products
    Ct rescale(const Ct& a);                    // a sum of mask_lazy products
    Ct mul_const(const Ct& a, double c);
    Ct mul_mask_const(const Ct& a, const Mask& m, double c);  // a ⊙ (c·m), one level (c changes per call: not cached)
    Ct mul_int(const Ct& a, long long k);
    Ct add(const Ct& a, const Ct& b);
    Ct add(Ct&& a, const Ct& b);                // in place: an accumulator passed by std::move is not copied
    Ct sub(const Ct& a, const Ct& b);
    Ct add_mask(const Ct& a, const Mask& m);
    Ct add_const(const Ct& a, double c);
    Ct poly(const Ct& a, const ckks::ChebyshevPoly& p);
    Ct boot_full(const Ct& a);
    Ct boot_sparse(const Ct& a);
    // To `level` at its nominal scale (no-op if already at or below).
    Ct drop(const Ct& a, std::size_t level);
    std::size_t level(const Ct& a) const { return a.level; }
    std::size_t boot_level() const { return full_.output_level(); }
    // Debug probe (secret key): only for the client-side self-check of ranges.
    void set_probe(const ckks::Decryptor* dec) { dec_ = dec; }
    bool can_probe() const { return dec_ != nullptr; }
    std::vector<double> probe(const Ct& a);
    void set_stage(Stage s);
    void drop_cache() { cache_.clear(); }
    // Independent blocks of a batch may run on the pool's threads at once (each operation
    // then runs on one thread): the counters and the mask cache are locked.
    bool parallel_blocks() const { return true; }
    OpCounts counts;
    std::array<double, kStages> seconds{};

private:
    template <class F>
    void locked(F f) {
        std::lock_guard<std::mutex> lk(mu_);
        f();
    }
    std::mutex mu_;
    const ckks::Plaintext& encoded(const Mask& m, std::size_t level, double scale);
    const ckks::Evaluator& ev_;
    const ckks::Bootstrapper& full_;
    const ckks::Bootstrapper& sparse_;
    std::size_t sparse_slots_;
    const ckks::Decryptor* dec_ = nullptr;
    std::map<std::pair<std::string, std::pair<std::size_t, double>>, ckks::Plaintext> cache_;
    Stage stage_ = Stage::Other;
    std::chrono::steady_clock::time_point t0_;
};

// ---------------------------------------------------------------- client-side packing
// Rows [first, first + count) of `f` (count <= blocks·s0) as the blocks' slot vectors.
std::vector<std::vector<double>> pack_x(const EncShape& sh, const Features& f, const std::vector<std::size_t>& rows);
// Labels of the same rows in the merged diagonal layout (1 where class (r + i) mod c' is
// the label of row r of block b at offset b·2c' + i).
std::vector<double> pack_y(const EncShape& sh, const Features& f, const std::vector<std::size_t>& rows);
// The tiled head.
std::vector<double> pack_head(const EncShape& sh, const Head& h);
// Throws std::invalid_argument if `slots` holds fewer than sh.slots values.
Head unpack_head(const EncShape& sh, const std::vector<double>& slots);
// How a decrypted head (real parts of its slots) departs from the tiled layout: a copy of
// the tile that differs from the first by more than `tol`, or a slot outside the head
// (offset columns, pad classes, columns past the bias) farther than `tol` from zero.
// Empty if none: then the slots are a tiled head up to `tol`.
std::string tiled_head_violation(const EncShape& sh, const std::vector<double>& slots, double tol);

// ---------------------------------------------------------------- the training engine
// Baby steps k of the logits' column rotations for c' padded classes (a power of two
// dividing c'; see Engine::logits).
std::size_t logit_baby_steps(std::size_t cpad);

template <class BK>
struct BatchData {
    std::vector<typename BK::Ct> x;                  // blocks
    std::vector<std::vector<typename BK::Ct>> xrot;  // optional cache: [b][i − 1] = rot(x_b, i), 0 < i < c'
    typename BK::Ct y;                               // merged labels
    std::vector<std::size_t> rows_valid;             // per block
    std::size_t total_rows = 0;
};

template <class BK>
class Engine {
public:
    using Ct = typename BK::Ct;
    Engine(const EncShape& sh, const SoftmaxPolys& sp, BK& bk);
    // Server side, optional: cache rot(x_b, i), 0 < i < c' (hoisted), for the logits of
    // every later step on this batch; without it they are recomputed at each step.
    void prepare(BatchData<BK>& bd);
    // Whether the caches of `batches` batches (CKKS ciphertexts at `x_level`, ring degree n)
    // fit in kRotationCacheBytes.
    static bool rotations_fit(const EncShape& sh, std::size_t batches, std::size_t x_level, std::size_t n);
    // Centred, scaled logits t = (z − mean z)/V of the batch in the merged layout (pad
    // classes −1): encrypted inference (the client decrypts and takes the arg max).
    Ct logits(const Ct& v_head, const BatchData<BK>& bd);
    // Softmax probabilities of the batch in the merged layout (stage 1, full bootstrap,
    // stage 2). Records ranges if the backend can probe.
    Ct forward(const Ct& v_head, const BatchData<BK>& bd);
    // One Nesterov step: w (at L) and v (lookahead) in, new (w, v) out.
    void step(Ct& w, Ct& v, const BatchData<BK>& bd, double lr, double gamma);
    // One step over several groups of a global batch (each its own logits, softmax and
    // bootstrap): the groups' gradients, each scaled by lr / (rows of all groups), summed in
    // the order given, then one update. A data-parallel server computes the same sum with
    // each rank's groups and one exact reduction (bt/dist/comm.hpp).
    void step(Ct& w, Ct& v, const std::vector<const BatchData<BK>*>& groups, double lr, double gamma);
    // The two halves of a step: the gradient of one group, tiled like W and already scaled
    // (`scale` = lr / rows of the whole step) ...
    Ct gradient(const Ct& v, const BatchData<BK>& bd, double scale);
    // ... and the update with the summed gradient g: W' = V − g (bootstrapped), V' = (1 + γ)W' − γW.
    void update(Ct& w, Ct& v, const Ct& g, double gamma);
    // Σ_i P ⊙ Y in the merged layout summed over each group: the probability of the
    // true class at offset b·2c' of each row (validation likelihood, for the client).
    Ct true_class_prob(const Ct& v_head, const BatchData<BK>& bd);
    RangeStats ranges;

private:
    void record_ranges(const Ct& t, const Ct& s, const Ct* q1, const Ct* q2, const BatchData<BK>& bd);
    const EncShape sh_;
    const SoftmaxPolys& sp_;
    BK& bk_;
    // The head's diagonals M_i, i < c' (see the packing notes above).
    std::vector<Ct> head_diagonals(const Ct& v_head, std::size_t level);
    // Σ_k colmask_k ⊙ *by_residue[k] (k < c'), rescaled once: column m from *by_residue[m mod c'].
    Ct select_columns(const std::vector<const Ct*>& by_residue);
    // Rotation steps 1 … k − 1: the baby-step column shifts of X.
    std::vector<long> baby_steps() const;
    // logits / forward that also hand the block rotations of X, brought to the gradient's
    // level, to `keep` (when they are not cached in the batch).
    Ct logits(const Ct& v_head, const BatchData<BK>& bd, std::vector<std::vector<Ct>>* keep);
    Ct forward(const Ct& v_head, const BatchData<BK>& bd, std::vector<std::vector<Ct>>* keep);
    std::size_t baby_;        // k (logit_baby_steps)
    std::size_t keep_level_;  // level of the gradient's products (the plan's d_level)
    // Masks built once.
    Mask logit_mask_;                   // 1/(c·V) at r·s1 + k, k < c', real classes
    Mask logit_half_mask_;              // the same halved (blocks paired as real and imaginary parts)
    std::vector<Mask> col_mask_;        // [k]: 1 at real columns m ≡ k (mod c')
    Mask pad_const_;                    // −1 at pad offsets, 0 elsewhere
    Mask half_mask_;                    // 1 at offsets b·2c' + i, i < c', every row
    Mask head_mask_;                    // 1 at the tiled head's weights (real classes and columns), every copy
    std::map<std::string, Mask> grad_cache_;  // per rows-valid and scale (block-relative), built on first use
    const Mask& grad_mask(std::size_t rows_valid, double scale);
    bool pad(std::size_t r, std::size_t i) const {  // class of diagonal i in row r is a pad class
        return static_cast<int>((r + i) % sh_.cpad) >= sh_.c;
    }
};

// A dry run of one step in the twin on zero data: the operation counts of a step and the
// exact rotation steps it uses (the training Galois keys are generated for these).
OpCounts dry_run_step(const EncShape& sh, const SoftmaxPolys& sp, std::vector<long>& rotation_steps);
// The highest level each rotation step is used at, by a step traced on LevelBackend with the
// levels of the plan: X at lp.x_level, labels at lp.y_label_level, the head at lp.L (the
// first step's V and the head of validation and inference; later steps' V is lower).
// `uses`, if given, receives the key switches each step's key serves in one training step
// (validation and inference not counted): what decides which keys are worth holding expanded.
std::map<long, std::size_t> rotation_levels(const EncShape& sh, const SoftmaxPolys& sp, const LevelPlan& lp,
                                            std::map<long, std::size_t>* uses = nullptr);

// The Galois elements of a plan's steps (kConjugateStep: the conjugation), and of one step.
std::vector<std::uint64_t> galois_elements(const ckks::KeyGenerator& kg, const std::vector<long>& steps);
std::uint64_t galois_element(const ckks::Encoder& enc, long step);

extern template class Engine<TwinBackend>;
extern template class Engine<CkksBackend>;
extern template class Engine<LevelBackend>;

}  // namespace bt::train
