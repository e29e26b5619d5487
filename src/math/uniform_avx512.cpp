// The AVX-512 build of the sixteen-block ChaCha20 kernel (see chacha_x16.inc), and the
// rejection step of sample_uniform_public on eight 64-bit words at a time.
#if defined(__x86_64__)
// GCC 12's AVX-512 headers self-initialise their "undefined" pass-through operands
// (__Y = __Y), which -Wmaybe-uninitialized reports at every use (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define CHACHA_X16_NAME chacha20_x16_avx512_impl
#include "chacha_x16.inc"

namespace bt::detail {
void chacha20_x16_avx512(const std::uint32_t key[8], std::uint64_t counter, std::uint64_t stream,
                         std::uint32_t out[256]) {
    chacha20_x16_avx512_impl(key, counter, stream, out);
}

// buf holds state word w of block b at buf[w·16 + b] (chacha20_x16's layout); the stream
// order is block by block, and a block's 16 words are its eight 64-bit words, low half
// first. A 16×16 transpose of 32-bit words (unpack 32, unpack 64, two 128-bit lane
// shuffles) puts block b's words in one register, where they already are its eight 64-bit
// words in order; then mask, compare with q, and pack the accepted words to the front
// (compress in a register, then one store: a compress straight to memory is microcoded
// and slow on AMD Zen 4).
std::size_t uniform_accept_x16_avx512(const std::uint32_t buf[256], std::uint64_t mask, std::uint64_t q,
                                      std::uint64_t* out, std::size_t room) {
    __m512i r[16], t[16], u[16];
    for (int w = 0; w < 16; ++w) r[w] = _mm512_loadu_si512(buf + 16 * w);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    // Per 128-bit lane L, u[4g + k] holds column 4L + k of rows 4g … 4g + 3.
    for (int g = 0; g < 4; ++g) {
        const int o = 4 * g;
        u[o + 0] = _mm512_unpacklo_epi64(t[o + 0], t[o + 2]);
        u[o + 1] = _mm512_unpackhi_epi64(t[o + 0], t[o + 2]);
        u[o + 2] = _mm512_unpacklo_epi64(t[o + 1], t[o + 3]);
        u[o + 3] = _mm512_unpackhi_epi64(t[o + 1], t[o + 3]);
    }
    __m512i col[16];
    for (int k = 0; k < 4; ++k) {
        const __m512i x0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88), x1 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xDD);
        const __m512i y0 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x88),
                      y1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xDD);
        col[k] = _mm512_shuffle_i32x4(x0, y0, 0x88);
        col[8 + k] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
        col[4 + k] = _mm512_shuffle_i32x4(x1, y1, 0x88);
        col[12 + k] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
    }
    const __m512i vm = _mm512_set1_epi64(static_cast<long long>(mask));
    const __m512i vq = _mm512_set1_epi64(static_cast<long long>(q));
    std::size_t done = 0;
    for (int b = 0; b < 16 && done < room; ++b) {
        const __m512i x = _mm512_and_si512(col[b], vm);
        const __mmask8 ok = _mm512_cmplt_epu64_mask(x, vq);  // public: which words are rejected
        const std::size_t cnt = static_cast<std::size_t>(__builtin_popcount(ok));
        const std::size_t take = cnt < room - done ? cnt : room - done;
        _mm512_mask_storeu_epi64(out + done, static_cast<__mmask8>((1u << take) - 1), _mm512_maskz_compress_epi64(ok, x));
        done += take;
    }
    return done;
}
}  // namespace bt::detail
#endif
