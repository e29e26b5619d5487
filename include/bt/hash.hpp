// FNV-1a (64-bit): a fast non-cryptographic fingerprint for identifying data and
// configurations (checkpoints name what they were made from). Not a MAC: files that must
// not be forged are checked against what the reader itself planned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace bt {

inline std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ull) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

inline std::uint64_t fnv1a64(const std::string& s) { return fnv1a64(s.data(), s.size()); }

}  // namespace bt
