// The AVX2 build of the ChaCha20 kernel (see chacha_x16.inc): eight blocks per vector pass,
// one ymm register per state word, two passes per call of sixteen blocks.
#if defined(__x86_64__)
#include <cstddef>
#include <cstdint>

#define CHACHA_X16_NAME chacha20_x16_avx2_impl
#define CHACHA_LANES 8
#include "chacha_x16.inc"

namespace bt::detail {
void chacha20_x16_avx2(const std::uint32_t key[8], std::uint64_t counter, std::uint64_t stream,
                       std::uint32_t out[256]) {
    chacha20_x16_avx2_impl(key, counter, stream, out);
}
}  // namespace bt::detail
#endif
