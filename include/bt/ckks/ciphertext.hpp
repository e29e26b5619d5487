// A CKKS ciphertext: 2 (or 3, before relinearization) RNS polynomials at a level, with
// the scale and slot count of the message it carries. Decrypts to Σ_i c_i · s^i.
#pragma once

#include "bt/ckks/poly.hpp"

#include <vector>

namespace bt::ckks {

struct Ciphertext {
    std::uint64_t fingerprint = 0;  // of the parameters
    std::vector<Poly> parts;        // each level+1 limbs, NTT form
    std::size_t level = 0;
    double scale = 1;
    std::size_t slots = 0;
    std::size_t size() const { return parts.size(); }
};

}  // namespace bt::ckks
