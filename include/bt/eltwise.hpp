// Element-wise modular kernels on residue vectors, in the same tiers as the NTT: a
// reference (_ref: plain 128-bit %, the oracle), and the dispatched fast versions whose
// per-path kernels live in src/math/eltwise*.cpp. Inputs in [0, q) unless stated;
// outputs in [0, q). Output may alias an input. q < 2^62.
#pragma once

#include "bt/cpu.hpp"
#include "bt/modarith.hpp"

#include <cstddef>

namespace bt {

enum class EltOp : int { Add, Sub, Neg, Mul, MulScalar, MulAcc };

// r = a + b, r = a - b, r = -a
void eltwise_add_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m);
void eltwise_sub_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m);
void eltwise_neg_mod(u64* r, const u64* a, std::size_t n, const Modulus& m);
// r = a · b (Barrett)
void eltwise_mul_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m);
// r = a · w for a fixed w in [0, q) (Shoup)
void eltwise_mul_scalar_mod(u64* r, const u64* a, u64 w, std::size_t n, const Modulus& m);
// r = r + a · b (multiply-accumulate)
void eltwise_mul_acc_mod(u64* r, const u64* a, const u64* b, std::size_t n, const Modulus& m);

// r = (neg[i] ? -mag[i] : mag[i]) mod q for magnitudes mag[i] < 2^62 (any neg byte other
// than 0 means negative): rounded plaintext coefficients reduced to one limb. r may alias
// mag.
void eltwise_reduce_signed(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m);
void eltwise_reduce_signed_path(SimdPath p, u64* r, const u64* mag, const unsigned char* neg, std::size_t n,
                                const Modulus& m);
void eltwise_reduce_signed_ref(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m);

// A given path (tests, bench); throws if this CPU/build lacks it.
void eltwise_path(SimdPath p, EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n,
                  const Modulus& m);
// The reference for each op (b or w ignored where the op has none).
void eltwise_ref(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m);

}  // namespace bt
