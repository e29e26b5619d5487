// Helpers shared by the CKKS test suites.
#pragma once

#include "bt/random.hpp"

namespace bt_test {

// A fixed test seed filled with one byte value (insecure by design: tests only).
inline bt::Seed seed_of(std::uint8_t v) {
    bt::Seed s{};
    s.fill(v);
    return s;
}

}  // namespace bt_test
