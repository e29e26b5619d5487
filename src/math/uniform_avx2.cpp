// The AVX2 build of the ChaCha20 kernel (see chacha_x16.inc): eight blocks per vector pass,
// one ymm register per state word, two passes per call of sixteen blocks; the rotations by
// 16 and 8 bits are one byte shuffle each (vpshufb) instead of two shifts and an or.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define CHACHA_X16_NAME chacha20_x16_avx2_impl
#define CHACHA_LANES 8
#define CHACHA_ROTL16(x)                                                                          \
    ((chacha_v16)_mm256_shuffle_epi8((__m256i)(x), _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, \
                                                                     14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, \
                                                                     10, 11, 8, 9, 14, 15, 12, 13)))
#define CHACHA_ROTL8(x)                                                                           \
    ((chacha_v16)_mm256_shuffle_epi8((__m256i)(x), _mm256_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, \
                                                                     15, 12, 13, 14, 3, 0, 1, 2, 7, 4, 5, 6, \
                                                                     11, 8, 9, 10, 15, 12, 13, 14)))
#include "chacha_x16.inc"

namespace bt::detail {
void chacha20_x16_avx2(const std::uint32_t key[8], std::uint64_t counter, std::uint64_t stream,
                       std::uint32_t out[256]) {
    chacha20_x16_avx2_impl(key, counter, stream, out);
}
}  // namespace bt::detail
#endif
