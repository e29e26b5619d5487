// CKKS encoding: the canonical embedding, computed with the "special" FFT.
//
// With n slots (a power of two dividing N/2) a message lives in the subring
// R' = Z[Y]/(Y^(2n) + 1), Y = X^(N/2n). Slot j holds m(ξ^(5^j mod 4n)), ξ = e^(2πi/4n):
// writing w_k = c_k + i·c_(k+n) for the 2n coefficients c of m(Y), slot j is
//     z_j = Σ_{k<n} w_k · ξ^(5^j · k)        (because ξ^(5^j · n) = i)
// so encoding is the inverse of this length-n transform, scaled by Δ and rounded, and
// decoding is the transform itself. Rotation by r slots is X -> X^(5^r), conjugation
// X -> X^(-1). Values are complex; real vectors are the imaginary-part-zero case.
// Each coefficient is round(w·Δ) of the exact product (bt/detmath.hpp: any magnitude, the
// same bits on every target), so precision is limited by the scale and by the double-
// precision FFT, not by the word size or the platform's long double.
#pragma once

#include "bt/ckks/poly.hpp"

#include <complex>
#include <vector>

namespace bt::ckks {

using cplx = std::complex<double>;

struct Plaintext {
    Poly poly;              // level+1 limbs, NTT form
    std::size_t level = 0;
    double scale = 1;
    std::size_t slots = 0;  // number of slots the message occupies
};

class Encoder {
public:
    explicit Encoder(ParamsPtr params);
    const ParamsPtr& params() const { return params_; }

    // Encodes up to `slots` values (missing ones are 0) at `level` and `scale`;
    // slots = 0 means all N/2. scale = 0 means the nominal scale of the level.
    Plaintext encode(const std::vector<cplx>& z, std::size_t level, double scale = 0, std::size_t slots = 0) const;
    Plaintext encode(const std::vector<double>& x, std::size_t level, double scale = 0, std::size_t slots = 0) const;
    // A constant in every slot: the constant polynomial round(c·scale), O(level·N).
    Plaintext encode_constant(double c, std::size_t level, double scale = 0, std::size_t slots = 0) const;
    // Slots of a plaintext (its `slots` count).
    std::vector<cplx> decode(const Plaintext& pt) const;

    // The transforms (exposed for tests and bootstrapping). Length n, in place.
    // fft_special: w (coefficient pairs) -> z (slots); fft_special_inv: z -> w.
    void fft_special(cplx* v, std::size_t n) const;
    void fft_special_inv(cplx* v, std::size_t n) const;
    // Galois element for a left rotation by `steps` slots (negative: right) with
    // `slots` slots; conjugation is 2N - 1.
    std::uint64_t galois_element(long steps, std::size_t slots = 0) const;

private:
    void check_slots(std::size_t slots) const;
    ParamsPtr params_;
    std::size_t m_;                     // 2N: ξ-powers are e^(2πi k/m)
    std::vector<cplx> roots_;           // e^(2πi k / m), k in [0, m]
    std::vector<std::uint64_t> rot_;    // 5^j mod m, j < N/2
};

// Writes round(values[k]·scale) (the 2n real coefficients of m(Y) times the scale, rounded
// exactly by round_mul of bt/detmath.hpp) into an RNS polynomial at `level` in coefficient
// form, position k·gap. Throws std::invalid_argument on a value that is not finite.
void coeffs_to_rns(const Params& P, const std::vector<double>& values, double scale, std::size_t gap,
                   std::size_t level, Poly& out);

}  // namespace bt::ckks
