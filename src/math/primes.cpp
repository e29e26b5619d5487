// NTT-friendly prime generation and primitive roots.
#include "bt/primes.hpp"

#include <algorithm>
#include <string>

namespace bt {

namespace {

u64 mulmod_u128(u64 a, u64 b, u64 n) { return static_cast<u64>(static_cast<u128>(a) * b % n); }

u64 powmod_u128(u64 a, u64 e, u64 n) {
    u64 r = 1 % n;
    a %= n;
    while (e != 0) {
        if (e & 1) r = mulmod_u128(r, a, n);
        a = mulmod_u128(a, a, n);
        e >>= 1;
    }
    return r;
}

bool is_pow2(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

bool is_prime(u64 n) {
    if (n < 2) return false;
    static const u64 bases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    for (u64 p : bases) {
        if (n % p == 0) return n == p;
    }
    u64 d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        ++s;
    }
    for (u64 a : bases) {
        u64 x = powmod_u128(a, d, n);
        if (x == 1 || x == n - 1) continue;
        bool composite = true;
        for (int r = 1; r < s; ++r) {
            x = mulmod_u128(x, x, n);
            if (x == n - 1) {
                composite = false;
                break;
            }
        }
        if (composite) return false;
    }
    return true;
}

std::vector<u64> generate_ntt_primes(int bits, std::size_t count, std::size_t N,
                                     const std::vector<u64>& exclude) {
    if (bits < 10 || bits > 61)
        throw std::invalid_argument("generate_ntt_primes: bits = " + std::to_string(bits) +
                                    " outside [10, 61]");
    if (!is_pow2(N) || N < 2)
        throw std::invalid_argument("generate_ntt_primes: N = " + std::to_string(N) +
                                    " is not a power of two >= 2");
    const u64 step = 2 * static_cast<u64>(N);
    const u64 lo = u64{1} << (bits - 1), hi = u64{1} << bits;
    std::vector<u64> out;
    // Largest candidate below 2^bits that is ≡ 1 mod 2N.
    u64 c = hi - step + 1;
    while (out.size() < count && c > lo) {
        if (is_prime(c) && std::find(exclude.begin(), exclude.end(), c) == exclude.end())
            out.push_back(c);
        if (c < step) break;
        c -= step;
    }
    if (out.size() < count)
        throw std::invalid_argument("generate_ntt_primes: only " + std::to_string(out.size()) + " of " +
                                    std::to_string(count) + " primes of " + std::to_string(bits) +
                                    " bits with q = 1 mod " + std::to_string(step) +
                                    " exist; use more bits or fewer primes");
    return out;
}

u64 minimal_primitive_root_2n(u64 q, std::size_t N) {
    const u64 m = 2 * static_cast<u64>(N);
    if (!is_prime(q) || (q - 1) % m != 0)
        throw std::invalid_argument("minimal_primitive_root_2n: q = " + std::to_string(q) +
                                    " is not a prime = 1 mod " + std::to_string(m));
    const Modulus mod(q);
    // g^((q-1)/2N) has order dividing 2N; it is primitive iff its N-th power is -1.
    // Among the primitive 2N-th roots, take the smallest for determinism.
    u64 root = 0;
    for (u64 g = 2; g < q; ++g) {
        u64 r = pow_mod(g, (q - 1) / m, mod);
        if (pow_mod(r, N, mod) == q - 1) {
            root = r;
            break;
        }
    }
    if (root == 0) throw std::logic_error("minimal_primitive_root_2n: no root found");
    // The primitive 2N-th roots are root^k for odd k.
    const u64 root_sq = mul_mod(root, root, mod);
    u64 best = root, cur = root;
    for (u64 k = 1; k < N; ++k) {
        cur = mul_mod(cur, root_sq, mod);
        if (cur < best) best = cur;
    }
    return best;
}

}  // namespace bt
