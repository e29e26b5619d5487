// CPU feature detection (CPUID + XGETBV) and the process-wide SIMD path choice.
#include "bt/cpu.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define BT_X86 1
#endif

namespace bt {

namespace {

#ifdef BT_X86
// XCR0 via XGETBV; only called once OSXSAVE is known to be set.
unsigned long long read_xcr0() {
    unsigned int lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
}
#endif

CpuFeatures detect() {
    CpuFeatures f;
#ifdef BT_X86
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = (c >> 27) & 1u;
    const bool avx = (c >> 28) & 1u;
    const bool fma = (c >> 12) & 1u;
    if (!osxsave || !avx) return f;
    const unsigned long long xcr0 = read_xcr0();
    const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
    const bool os_zmm = (xcr0 & 0xE6) == 0xE6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const bool avx2 = (b >> 5) & 1u, bmi2 = (b >> 8) & 1u;
    const bool f512 = (b >> 16) & 1u, dq = (b >> 17) & 1u, ifma = (b >> 21) & 1u;
    const bool bw = (b >> 30) & 1u, vl = (b >> 31) & 1u;
    f.avx2 = os_ymm && avx2 && bmi2 && fma;
    f.avx512 = f.avx2 && os_zmm && f512 && dq && bw && vl;
    f.avx512ifma = f.avx512 && ifma;
#endif
    return f;
}

SimdPath choose() {
    const char* env = std::getenv("BT_SIMD");
    if (env == nullptr || *env == '\0' || std::string(env) == "auto") return best_simd_path();
    SimdPath p;
    try {
        p = parse_simd_path(env);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "BlindTuner: %s\n", e.what());
        std::exit(2);
    }
    if (!simd_path_supported(p)) {
        std::fprintf(stderr,
                     "BlindTuner: BT_SIMD=%s asks for a SIMD path this %s; it offers: %s. "
                     "Unset BT_SIMD or choose one of those (or scalar).\n",
                     env, simd_path_supported(SimdPath::Scalar) ? "CPU or build lacks" : "build lacks",
                     cpu_features_string().c_str());
        std::exit(2);
    }
    return p;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = detect();
    return f;
}

std::string cpu_features_string() {
    const CpuFeatures& f = cpu_features();
    std::string s;
    if (f.avx2) s += "avx2";
    if (f.avx512) s += " avx512";
    if (f.avx512ifma) s += " avx512ifma";
    return s.empty() ? "none (scalar only)" : s;
}

bool simd_path_supported(SimdPath p) {
    const CpuFeatures& f = cpu_features();
    switch (p) {
        case SimdPath::Scalar: return true;
#ifdef BT_X86
        case SimdPath::AVX2: return f.avx2;
        case SimdPath::AVX512: return f.avx512;
        case SimdPath::AVX512IFMA: return f.avx512ifma;
#else
        default: (void)f; return false;
#endif
    }
    return false;
}

void require_simd_path(SimdPath p) {
    if (!simd_path_supported(p))
        throw std::invalid_argument(std::string("SIMD path ") + simd_path_name(p) +
                                    " is not available on this CPU/build (offers: " +
                                    cpu_features_string() + ")");
}

SimdPath best_simd_path() {
    for (SimdPath p : {SimdPath::AVX512IFMA, SimdPath::AVX512, SimdPath::AVX2})
        if (simd_path_supported(p)) return p;
    return SimdPath::Scalar;
}

SimdPath simd_path() {
    static const SimdPath p = choose();
    return p;
}

const char* simd_path_name(SimdPath p) {
    switch (p) {
        case SimdPath::Scalar: return "scalar";
        case SimdPath::AVX2: return "avx2";
        case SimdPath::AVX512: return "avx512";
        case SimdPath::AVX512IFMA: return "avx512ifma";
    }
    return "?";
}

SimdPath parse_simd_path(const std::string& name) {
    if (name == "scalar") return SimdPath::Scalar;
    if (name == "avx2") return SimdPath::AVX2;
    if (name == "avx512") return SimdPath::AVX512;
    if (name == "avx512ifma" || name == "ifma") return SimdPath::AVX512IFMA;
    throw std::invalid_argument("unknown SIMD path '" + name +
                                "': expected scalar, avx2, avx512, avx512ifma or auto");
}

}  // namespace bt
