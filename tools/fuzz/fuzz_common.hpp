// Shared by the fuzz harnesses: a mutated BlindTuner HE file would almost always fail its
// checksum, so a harness whose selector byte has the top bit set repairs the header's
// payload size and checksum first: the mutation then reaches the payload parser.
#pragma once

#include "bt/ckks/serialize.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace btfuzz {

inline std::vector<std::uint8_t> repaired(std::vector<std::uint8_t> b) {
    if (b.size() < bt::ckks::kHeaderBytes || std::memcmp(b.data(), "BTHE", 4) != 0) return b;
    const std::uint64_t n = b.size() - bt::ckks::kHeaderBytes;
    const std::uint64_t c = bt::ckks::payload_checksum(b.data() + bt::ckks::kHeaderBytes, n);
    for (int k = 0; k < 8; ++k) {
        b[16 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(n >> (8 * k));
        b[24 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(c >> (8 * k));
    }
    return b;
}

}  // namespace btfuzz
