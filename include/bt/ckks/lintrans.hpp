// Encrypted linear transforms and the homomorphic DFT of bootstrapping.
//
// LinearTransform: a plaintext n×n complex matrix M, given by its nonzero generalized
// diagonals diag_d[r] = M[r][(r + d) mod n], times an encrypted vector of n slots:
//     M·v = Σ_d diag_d ⊙ rot(v, d)                  (Halevi–Shoup 2014, diagonal method)
// evaluated by baby-step giant-step (Halevi–Shoup 2018; Han–Ki 2020): with d = g + b,
// g a multiple of n1 and b in [0, n1),
//     M·v = Σ_g rot( Σ_b rot(diag_{g+b}, -g) ⊙ rot(v, b), g )
// so only the distinct baby steps b and giant steps g are rotations. The diagonals are
// pre-rotated and encoded once, at construction. The baby rotations share one
// decomposition of the input (hoisting). With the default DoubleHoisted method the
// baby rotations are also left in the extended basis Q·P (no ModDown), the plaintext
// products and giant sums are computed there, each giant rotation ModDowns only the
// c1 it has to decompose, and the result is ModDowned once (Bossuat–Mouchet–Troncoso-
// Pastoriza–Hubaux, Eurocrypt 2021, "double hoisting"). One level is consumed.
//
// HomomorphicDFT: CoeffsToSlots and SlotsToCoeffs of bootstrapping (Cheon–Han–Kim–Kim–
// Song 2018; Chen–Chillotti–Song 2019; Han–Ki 2020). The special FFT of the encoder
// (Encoder::fft_special, decoding: coefficients -> slots) factors as
//     U = F_L ⋯ F_1 · R      (L = log2 n, R the bit-reversal permutation)
// with F_s the radix-2 butterfly layer of span 2^(s-1), which has the three diagonals
// 0 and ±2^(s-1). R has no sparse diagonal form, so, as is standard, the transforms
// work in bit-reversed slot order: CoeffsToSlots computes R·U^{-1} (coefficient k of
// the input lands in slot br(k)) and SlotsToCoeffs computes U·R (slot k becomes
// coefficient br(k)); one undoes the other and EvalMod in between is slot-wise. The
// L layers are merged into `level_budget` stages (a stage of k layers has at most
// 2^(k+1) - 1 diagonals), each one LinearTransform, so the depth is the level budget.
//
// Real and imaginary parts. A message of n slots has 2n real coefficients c; the DFT
// works on w_k = c_k + i·c_(k+n). CoeffsToSlots ends with one conjugation (no level):
//   n = N/2 (full):  two ciphertexts, Re(w) and Im(w), each N/2 real slots;
//   n < N/2 (sparse): one ciphertext of 2n slots [Re(w) | Im(w)] (the last stage
//                     writes [w/2 | -i·w/2] and adding the conjugate leaves the real
//                     parts), so EvalMod runs once on 2n real values.
// SlotsToCoeffs takes the same shapes: full, re + i·im (multiplication by i is the
// monomial X^(N/2), exact, no level) then the stages; sparse, the first stage reads the
// 2n slots [a | b] and writes the n-slot message a + i·b, folding the repacking matrix
// [[I, iI], [I, iI]] (which doubles that stage's giant steps) into the stage.
#pragma once

#include "bt/ckks/evaluator.hpp"
#include "bt/detmath.hpp"

#include <array>
#include <map>
#include <string>
#include <vector>

namespace bt::ckks {

// ================================================================ plaintext matrices

// A square matrix over n slots by its generalized diagonals: diag[d][r] = M[r][(r+d) mod n],
// d in [0, n), each vector of length n.
using Diagonals = std::map<std::size_t, std::vector<cplx>>;

// M·v in plaintext (the reference for the encrypted product).
std::vector<cplx> apply_diagonals(const Diagonals& m, const std::vector<cplx>& v, std::size_t n);
// A·B (apply B first), as diagonals.
Diagonals compose_diagonals(const Diagonals& a, const Diagonals& b, std::size_t n);
// Diagonals of a dense row-major matrix (rows × n entries); all-zero diagonals dropped.
Diagonals dense_to_diagonals(const std::vector<cplx>& dense, std::size_t n);
// Dense row-major n×n matrix of a diagonal form.
std::vector<cplx> diagonals_to_dense(const Diagonals& m, std::size_t n);

// ================================================================ baby-step giant-step

// The split of a diagonal index set into baby steps b = d mod n1 and giant steps
// g = d - b (both in [0, n)). rotations = nonzero babies + nonzero giants.
struct BsgsSplit {
    std::size_t n1 = 1;
    std::vector<std::size_t> baby, giant;  // sorted, distinct
    std::size_t rotations = 0;
};
// n1 = 0: the power of two minimising rotations (ties: fewer giant steps, since baby
// steps are hoisted and cheaper). Otherwise n1 as given (any value in [1, n]).
BsgsSplit bsgs_split(const std::vector<std::size_t>& diagonals, std::size_t n, std::size_t n1 = 0);

// Giant steps by Horner's rule, with two rotation keys instead of one per giant step.
// The giants are g = k·n1, k in Z_(n/n1). Starting after the largest cyclic gap, at k_s,
// the giants lie in the run k_s + j, j = 0 … J, and
//     Σ_j rot(Y_j, (k_s + j)·n1) = rot( Y_0 + rot(Y_1 + rot(… + rot(Y_J, n1) …, n1), n1), k_s·n1 )
// costs J rotations by n1 and one by k_s·n1 (none if k_s = 0): at most one key switch
// more than one rotation per nonzero giant when the run has no holes, and two keys
// instead of one per giant. `usable` is false when the holes would cost more than one extra
// key switch; the transform then uses one key per giant.
struct HornerGiants {
    bool usable = false;
    std::size_t start = 0;            // k_s
    std::size_t span = 0;             // J
    std::vector<std::size_t> steps;   // left rotations needing keys (n1 if J > 0, k_s·n1 if k_s != 0)
    std::size_t rotations = 0;        // key switches: J + [k_s != 0]
};
HornerGiants horner_giants(const BsgsSplit& split, std::size_t n);

// ================================================================ encrypted linear transform

enum class LTMethod {
    Naive,          // one hoisted rotation per diagonal (the reference)
    Hoisted,        // BSGS, baby steps hoisted (Evaluator::rotate_hoisted)
    DoubleHoisted,  // BSGS, baby steps and giant sums in Q·P, one ModDown per giant step
    DoubleHoistedFewKeys,  // the same with the giant steps by Horner's rule (HornerGiants): about
                           // one key switch more, keys for the baby steps plus two
};

// The 2n rounded coefficients of an encoded plaintext, prepared for reduction modulo any
// prime of the chain: magnitudes below 2^62 and signs, or (rarely) the exact wide integers.
struct PreparedCoeffs {
    std::vector<u64> mag;
    std::vector<unsigned char> neg;
    std::vector<ExactInt> big;  // non-empty instead of mag/neg if a coefficient is >= 4e18
    std::size_t size() const { return big.empty() ? mag.size() : big.size(); }
    std::size_t bytes() const { return mag.size() * sizeof(u64) + neg.size() + big.size() * sizeof(ExactInt); }
};

class LinearTransform {
public:
    // Encodes the pre-rotated diagonals at `level` and plaintext scale `scale` (0: the
    // nominal scale Δ_level, so that a ciphertext at Δ_level lands at Δ_(level-1)).
    // n1 = 0 chooses the baby-step count minimising rotations. compact: keep only the 2n
    // rounded coefficients of each plaintext (16 bytes each) and build its RNS/NTT form at
    // every evaluation (one NTT per limb per plaintext), instead of (level+1+k)·N words
    // per plaintext: 10–30× less memory at N = 2^16, slower evaluation. Throws on a
    // diagonal of the wrong length, an index >= slots, or an empty matrix.
    LinearTransform(const Encoder& enc, const Diagonals& diagonals, std::size_t slots, std::size_t level,
                    double scale = 0, std::size_t n1 = 0, bool compact = false);

    std::size_t slots() const { return slots_; }
    std::size_t level() const { return level_; }             // input level; output is level - 1
    double plaintext_scale() const { return scale_; }
    std::size_t depth() const { return 1; }
    const BsgsSplit& split() const { return split_; }
    std::vector<std::size_t> diagonal_indices() const;
    const Diagonals& diagonals() const { return diags_; }
    // Exactly the left-rotation steps (in [1, slots)) the method uses: generate Galois keys
    // with KeyGenerator::galois_elements_for_steps(steps, slots) (or any slot count >=
    // slots() as the steps are non-negative).
    std::vector<long> rotation_steps(LTMethod method = LTMethod::DoubleHoisted) const;
    // Number of key switches (rotations) per evaluation.
    std::size_t rotation_count(LTMethod method = LTMethod::DoubleHoisted) const {
        return rotation_steps(method).size();
    }

    // The encrypted product, rescaled: level - 1, scale ct.scale·plaintext_scale()/q_level.
    // ct must be at level() (a higher level is dropped to it) with slots() slots, or
    // with fewer slots dividing slots() (an n-slot message is a replicated 2n-slot one).
    // The result carries output_slots() slots.
    Ciphertext evaluate(const Evaluator& ev, const Ciphertext& ct, LTMethod method = LTMethod::DoubleHoisted) const;
    // The same without the final rescale (level(), scale ct.scale·plaintext_scale()).
    Ciphertext evaluate_no_rescale(const Evaluator& ev, const Ciphertext& ct,
                                   LTMethod method = LTMethod::DoubleHoisted) const;

    // The slot count stamped on results (default slots()). A transform whose output is
    // known to repeat with period m < slots() may say so (m must divide slots()).
    void set_output_slots(std::size_t m);
    std::size_t output_slots() const { return out_slots_; }

    // Bytes held: the encoded plaintexts ((level+1+k)·N words each) and the diagonals.
    std::size_t memory_bytes() const;
    // Compact storage: build every plaintext's RNS/NTT form now from its kept coefficients
    // (the words an evaluation of the compact form builds on the fly, so results are
    // bit-identical) and drop the coefficients. No-op if already precomputed.
    void precompute();
    bool compact() const { return compact_; }
    // What memory_bytes() is (or would be) with the plaintexts precomputed.
    std::size_t precomputed_bytes() const;

    // M·v in plaintext.
    std::vector<cplx> apply_plain(const std::vector<cplx>& v) const { return apply_diagonals(diags_, v, slots_); }

private:
    struct Term {
        std::size_t baby_index = 0;     // into split_.baby
        Poly pt;                        // rot(diag_{g+b}, -g), NTT, limbs q_0 … q_level, p_0 … p_{k-1}
        PreparedCoeffs coeffs;          // compact: its 2n rounded coefficients instead
    };
    struct Giant {
        std::size_t step;
        std::vector<Term> terms;
    };
    // The plaintext of a term over its first `limbs` limbs (built in scratch if compact).
    const Poly& plaintext(const Term& t, std::size_t limbs, Poly& scratch) const;
    Ciphertext eval_naive(const Evaluator& ev, const Ciphertext& ct) const;
    Ciphertext eval_hoisted(const Evaluator& ev, const Ciphertext& ct) const;
    Ciphertext eval_double_hoisted(const Evaluator& ev, const Ciphertext& ct) const;
    Ciphertext eval_double_hoisted_horner(const Evaluator& ev, const Ciphertext& ct) const;
    Ciphertext finish_qp(Poly&& T0, Poly&& T1, const Ciphertext& ct) const;
    // The products Σ_b pt ⊙ baby_b of one giant over Q·P (A0, A1 overwritten).
    void giant_sum(const Giant& G, const std::vector<std::array<Poly, 2>>& baby, Poly& A0, Poly& A1) const;

    ParamsPtr params_;
    Diagonals diags_;
    std::size_t slots_, level_, out_slots_;
    double scale_;
    bool compact_;
    BsgsSplit split_;
    std::vector<Giant> giants_;
};

// Encodes n slot values as a plaintext polynomial over q_0 … q_level and p_0 … p_{k-1}
// (NTT form, l+1+k limbs) at `scale`: the first level+1 limbs equal Encoder::encode.
Poly encode_qp(const Encoder& enc, const std::vector<cplx>& z, std::size_t level, double scale, std::size_t slots);

// Multiplies a ciphertext by i in every slot: the monomial X^(N/2) (exact, no level).
void mul_by_i_inplace(const Params& P, Ciphertext& ct);

// ================================================================ homomorphic DFT

enum class DFTKind { CoeffsToSlots, SlotsToCoeffs };

// Bit reversal of log2(n) bits (n a power of two).
std::size_t bit_reverse(std::size_t k, std::size_t n);
// v'[k] = v[br(k)].
std::vector<cplx> bit_reverse_vector(const std::vector<cplx>& v);

// The pure butterfly factorization, in order of application, over n slots:
//   SlotsToCoeffs: F_(s_1-1) ⋯ F_1, then …, product U·R   (Encoder::fft_special after R)
//   CoeffsToSlots: (1/n)-scaled inverse layers from the top, product R·U^{-1}
//                  (Encoder::fft_special_inv, then R)
// layers_per_stage lists the layer counts in order of application (sum log2 n).
std::vector<Diagonals> dft_factors(const Encoder& enc, DFTKind kind, std::size_t n,
                                   const std::vector<std::size_t>& layers_per_stage);

// Sparse packing, before CoeffsToSlots: after ModRaise an n-slot ciphertext decrypts to
// m + q_0·I with I over the whole ring, not in the subring Z[X^(N/2n)] of n-slot
// messages that the n-slot stages assume. The trace
//     Tr(ct) = Σ_{t < N/2n} rot(ct, t·n)     (rotations over N/2 slots)
// keeps exactly the coefficients at multiples of N/2n, times N/2n (Cheon–Han–Kim–Kim–
// Song 2018, "SubSum"), with log2(N/2n) rotations and no level; fold 2n/N into the
// CoeffsToSlots scaling. In slots: out_j = Σ_t z_(j + t·n mod N/2), an n-slot message.
Ciphertext subring_trace(const Evaluator& ev, const Ciphertext& ct, std::size_t slots);
// Its rotation steps, over N/2 slots: n, 2n, …, N/4.
std::vector<long> subring_trace_steps(std::size_t N, std::size_t slots);

struct DFTOptions {
    DFTKind kind = DFTKind::CoeffsToSlots;
    std::size_t slots = 0;           // n: N/2 (full) or a smaller power of two (sparse), >= 2
    std::size_t level_budget = 3;    // stages = depth, 1 … log2(n)
    std::size_t level = 0;           // input level; stage t runs at level - t
    double scaling = 1;              // a real constant multiplied into the transform
    bool keep_scale = false;         // plaintexts at scale q_l: the ciphertext scale is unchanged;
                                     // otherwise at Δ_l (nominal scale in, nominal scale out)
    bool compact = false;            // LinearTransform's compact plaintext storage
    // How the stages are evaluated (and so which keys they need): DoubleHoisted, or
    // DoubleHoistedFewKeys for fewer rotation keys (bootstrapping's key memory).
    LTMethod method = LTMethod::DoubleHoisted;
    std::vector<std::size_t> layers_per_stage;  // empty: chosen to minimise rotations
};

struct DFTStagePlan {
    std::size_t layers = 0;        // butterfly layers merged
    std::size_t view_slots = 0;    // slot count the stage's matrix lives on (n, or 2n for sparse)
    std::vector<std::size_t> diagonals;
    BsgsSplit split;
};

struct DFTPlan {
    DFTKind kind = DFTKind::CoeffsToSlots;
    std::size_t N = 0, slots = 0;
    std::vector<DFTStagePlan> stages;  // in order of application
    bool conjugation = false;          // CoeffsToSlots: one conjugation after the stages
    LTMethod method = LTMethod::DoubleHoisted;  // (DoubleHoisted or DoubleHoistedFewKeys)
    std::size_t depth() const { return stages.size(); }
    std::vector<long> rotation_steps() const;  // union over the stages, sorted
    std::size_t rotations() const;             // key switches per evaluation (incl. conjugation)
    std::size_t diagonals() const;             // plaintexts (sum over stages)
    std::string describe() const;
};

// The symbolic plan (index sets and BSGS splits only; nothing encoded): usable for any
// ring, e.g. to tabulate N = 2^16 costs without building matrices.
DFTPlan plan_dft(std::size_t N, const DFTOptions& opt);

class HomomorphicDFT {
public:
    HomomorphicDFT(const Encoder& enc, const DFTOptions& opt);

    const DFTOptions& options() const { return opt_; }
    const DFTPlan& plan() const { return plan_; }
    std::size_t depth() const { return stages_.size(); }
    std::size_t input_level() const { return opt_.level; }
    std::size_t output_level() const { return opt_.level - stages_.size(); }
    const std::vector<LinearTransform>& stages() const { return stages_; }
    // Rotation steps (non-negative, < 2n) and whether conjugation is needed.
    std::vector<long> rotation_steps() const { return plan_.rotation_steps(); }
    bool needs_conjugation() const { return plan_.conjugation; }
    // The Galois elements of all key switches (rotations, and conjugation if needed).
    std::vector<std::uint64_t> galois_elements() const;
    // The elements whose key one evaluation uses more than once (the Horner giant step n1 of
    // a stage, applied J >= 2 times); every other key is used once per evaluation.
    std::vector<std::uint64_t> repeated_elements() const { return repeated_; }

    // CoeffsToSlots of an n-slot ciphertext at input_level(): the real parts (full: N/2
    // slots; sparse: one 2n-slot ciphertext [Re | Im] and `imag` left empty) and the
    // imaginary parts (full only), bit-reversed (slot br(k) holds coefficient k), times
    // options().scaling.
    struct Split {
        Ciphertext real, imag;  // imag.parts empty for sparse packing
    };
    Split coeffs_to_slots(const Evaluator& ev, const Ciphertext& ct) const;
    // SlotsToCoeffs: full packing takes (re, im) of N/2 slots each; sparse packing one
    // 2n-slot ciphertext [a | b] (im = nullptr). Returns an n-slot ciphertext whose
    // coefficient br(k) is scaling·(a_k) and coefficient br(k) + n is scaling·b_k
    // (positions times N/2n).
    Ciphertext slots_to_coeffs(const Evaluator& ev, const Ciphertext& re, const Ciphertext* im) const;
    std::size_t memory_bytes() const {
        std::size_t b = 0;
        for (const LinearTransform& t : stages_) b += t.memory_bytes();
        return b;
    }
    // Every stage precomputed (LinearTransform::precompute), and what that holds.
    void precompute();
    std::size_t precomputed_bytes() const {
        std::size_t b = 0;
        for (const LinearTransform& t : stages_) b += t.precomputed_bytes();
        return b;
    }
    // The stages alone, on a ciphertext in the first stage's layout.
    Ciphertext apply_stages(const Evaluator& ev, const Ciphertext& ct,
                            LTMethod method = LTMethod::DoubleHoisted) const;

private:
    ParamsPtr params_;
    DFTOptions opt_;
    DFTPlan plan_;
    std::vector<LinearTransform> stages_;
    std::vector<std::uint64_t> galois_, repeated_;
};

}  // namespace bt::ckks
