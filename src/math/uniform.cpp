// Public uniform polynomials from a seed, fast: the same values as
// sample_uniform_mod(Prng(seed, stream), q, out, n), word for word, from sixteen ChaCha20
// blocks at a time (chacha_x16.inc; AVX-512 or AVX2 as the run-time path allows). For public
// data only (the "a" halves of keys and of seed-compressed ciphertexts): nothing is wiped.
#include "bt/cpu.hpp"
#include "bt/ct.hpp"
#include "bt/random.hpp"
#include "kernels.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#define CHACHA_X16_NAME chacha20_x16_portable
#include "chacha_x16.inc"

namespace bt {

namespace {

using Kernel = void (*)(const std::uint32_t*, std::uint64_t, std::uint64_t, std::uint32_t*);

Kernel kernel_for(SimdPath p) {
#if defined(__x86_64__)
    if (p == SimdPath::AVX512 || p == SimdPath::AVX512IFMA) return detail::chacha20_x16_avx512;
    if (p == SimdPath::AVX2) return detail::chacha20_x16_avx2;
#else
    (void)p;
#endif
    return chacha20_x16_portable;
}

// The ChaCha20 key: the seed as 8 little-endian words.
void key_words(const Seed& seed, std::uint32_t key[8]) {
    for (std::size_t i = 0; i < 8; ++i)
        key[i] = static_cast<std::uint32_t>(seed[4 * i]) | static_cast<std::uint32_t>(seed[4 * i + 1]) << 8 |
                 static_cast<std::uint32_t>(seed[4 * i + 2]) << 16 | static_cast<std::uint32_t>(seed[4 * i + 3]) << 24;
}

}  // namespace

void chacha20_x16(const Seed& seed, std::uint64_t counter, std::uint64_t stream, std::uint32_t out[256],
                  SimdPath path) {
    std::uint32_t key[8];
    key_words(seed, key);
    kernel_for(path)(key, counter, stream, out);
}

void sample_uniform_public_path(const Seed& seed, std::uint64_t stream, u64 q, u64* out, std::size_t n,
                                SimdPath path) {
    if (q == 0) throw std::invalid_argument("sample_uniform_public: q = 0");
    require_simd_path(path);
    const int bits = bit_length(q - 1);
    const u64 mask = bits == 64 ? ~u64{0} : (u64{1} << bits) - 1;
    std::uint32_t key[8];
    key_words(seed, key);
    const Kernel k = kernel_for(path);
#if defined(__x86_64__)
    const bool wide = path == SimdPath::AVX512 || path == SimdPath::AVX512IFMA;
#endif
    alignas(64) std::uint32_t buf[256];
    std::uint64_t counter = 0;
    std::size_t i = 0;
    while (i < n) {
        k(key, counter, stream, buf);
        counter += 16;
#if defined(__x86_64__)
        if (wide) {
            i += detail::uniform_accept_x16_avx512(buf, mask, q, out + i, n - i);
            continue;
        }
#endif
        // Stream order: block b, then its 64-bit words 0..7 (words 2k and 2k+1, little-endian).
        // Branch-free: each word is written at the next free place of `kept`, which advances
        // only past a word that is kept (about half are rejected when q is just above a
        // power of two, and a branch on that would mispredict as often).
        u64 kept[128];
        std::size_t nkept = 0;
        for (std::size_t b = 0; b < 16; ++b)
            for (std::size_t w = 0; w < 8; ++w) {
                const u64 x = ((static_cast<u64>(buf[(2 * w + 1) * 16 + b]) << 32) | buf[2 * w * 16 + b]) & mask;
                bool accept = x < q;
                BT_CT_PUBLIC(&accept, sizeof accept);  // the values are public; rejected ones are never output
                kept[nkept] = x;
                nkept += accept;
            }
        const std::size_t take = std::min(nkept, n - i);
        std::copy(kept, kept + take, out + i);
        i += take;
    }
}

void sample_uniform_public(const Seed& seed, std::uint64_t stream, u64 q, u64* out, std::size_t n) {
    sample_uniform_public_path(seed, stream, q, out, n, simd_path());
}

}  // namespace bt
