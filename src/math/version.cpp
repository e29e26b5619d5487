// Version line of every program (see bt/version.hpp).
#include "bt/version.hpp"

#include "bt/cpu.hpp"

namespace bt {

namespace {

const char* target() {
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#elif defined(__powerpc64__)
    return "ppc64";
#else
    return "other";
#endif
}

}  // namespace

std::string version_line(const std::string& program) {
    std::string built = "scalar";
#if defined(__x86_64__)
    built += " avx2 avx512 avx512ifma";
#endif
    return program + " " + kVersion + " (target " + target() + "; SIMD paths built: " + built +
           "; in force here: " + simd_path_name(simd_path()) + ")";
}

}  // namespace bt
