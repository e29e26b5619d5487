// CPU feature detection and the choice of SIMD path.
//
// The path is chosen once per process, from CPUID plus XGETBV (the OS must save the
// wider registers), and can be forced with the environment variable BT_SIMD:
//   BT_SIMD=scalar | avx2 | avx512 | avx512ifma | auto (default: best the CPU offers)
// Forcing a path the CPU or this build lacks stops the program with a message (running
// it would die on an illegal instruction). Non-x86 builds only have "scalar".
#pragma once

#include <string>

namespace bt {

enum class SimdPath : int {
    Scalar = 0,      // portable C++, any architecture
    AVX2 = 1,        // x86-64 AVX2 (+BMI2, FMA)
    AVX512 = 2,      // AVX-512 F/DQ/VL/BW, 64-bit modular arithmetic
    AVX512IFMA = 3,  // as AVX512, plus IFMA 52-bit multiply-add for primes below 2^50
};

struct CpuFeatures {
    bool avx2 = false;        // AVX2, BMI2 and FMA, with OS support for YMM state
    bool avx512 = false;      // AVX-512 F, DQ, VL, BW, with OS support for ZMM state
    bool avx512ifma = false;  // avx512 plus AVX512_IFMA
};

// What this CPU and OS offer (detected once).
const CpuFeatures& cpu_features();
// "avx2 avx512 avx512ifma" or "none".
std::string cpu_features_string();
// Whether this build contains kernels for `p` and the CPU can run them.
bool simd_path_supported(SimdPath p);
// Throws std::invalid_argument naming the path and what the CPU/build offers unless
// simd_path_supported(p) (the *_path entry points for tests and benchmarks).
void require_simd_path(SimdPath p);
// The best supported path.
SimdPath best_simd_path();
// The path in force: BT_SIMD if set, else the best supported one. Chosen once.
SimdPath simd_path();
const char* simd_path_name(SimdPath p);
// Parses "scalar", "avx2", "avx512", "avx512ifma"; throws std::invalid_argument otherwise.
SimdPath parse_simd_path(const std::string& name);

}  // namespace bt
