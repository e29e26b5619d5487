// NTT-friendly primes: q prime with q ≡ 1 (mod 2N), so that Z_q holds a primitive
// 2N-th root of unity ψ and the negacyclic ring Z_q[X]/(X^N + 1) has an NTT.
#pragma once

#include "bt/modarith.hpp"

#include <vector>

namespace bt {

// Deterministic Miller–Rabin for every 64-bit n (bases 2, 3, 5, 7, 11, 13, 17, 19, 23,
// 29, 31, 37 are a proven witness set below 3.3 · 10^24).
bool is_prime(u64 n);

// `count` distinct primes of exactly `bits` bits (2^(bits-1) < q < 2^bits), q ≡ 1 mod 2N,
// searched downward from 2^bits, skipping any in `exclude`. bits in [10, 61].
// Throws with a message if the range holds too few.
std::vector<u64> generate_ntt_primes(int bits, std::size_t count, std::size_t N,
                                     const std::vector<u64>& exclude = {});

// The smallest primitive 2N-th root of unity mod q (deterministic), q ≡ 1 mod 2N, prime.
u64 minimal_primitive_root_2n(u64 q, std::size_t N);

}  // namespace bt
