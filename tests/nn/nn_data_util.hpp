// Shared by the data loader suites (tests/nn/{npy,zip,png,pnm,cifar,image_folder}.cpp):
// golden files and the message of an expected refusal.
#pragma once

#include "../test_util.hpp"

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace bt_test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes golden(const std::string& name) {
    const std::string s = slurp(data_path("nn/golden/" + name));
    if (s.empty()) throw std::runtime_error("golden file nn/golden/" + name + " is empty or missing");
    return Bytes(s.begin(), s.end());
}

// The message of the std::runtime_error `fn` throws; "" if it returns, "OTHER: ..." for any
// other exception (every loader must refuse with std::runtime_error).
template <class Fn>
std::string refusal(Fn fn) {
    try {
        fn();
    } catch (const std::runtime_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("OTHER: ") + e.what();
    }
    return "";
}

inline void put_le(Bytes& b, std::uint64_t v, unsigned bytes) {
    for (unsigned k = 0; k < bytes; ++k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
}

}  // namespace bt_test
