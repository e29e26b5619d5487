// The AVX-512 build of the sixteen-block ChaCha20 kernel (see chacha_x16.inc).
#if defined(__x86_64__)
#include <cstdint>

#define CHACHA_X16_NAME chacha20_x16_avx512_impl
#include "chacha_x16.inc"

namespace bt::detail {
void chacha20_x16_avx512(const std::uint32_t key[8], std::uint64_t counter, std::uint64_t stream,
                         std::uint32_t out[256]) {
    chacha20_x16_avx512_impl(key, counter, stream, out);
}
}  // namespace bt::detail
#endif
