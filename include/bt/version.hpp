// The project's version and what a binary was built with, for every program's --version.
#pragma once

#include <string>

namespace bt {

constexpr const char* kVersion = "0.4.0";

// "<program> 0.4.0 (target x86_64-linux-gnu; SIMD paths built: scalar avx2 avx512
// avx512ifma; in force here: avx512ifma)".
std::string version_line(const std::string& program);

}  // namespace bt
