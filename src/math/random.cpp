// ChaCha20 CSPRNG, OS seeding, and the samplers (see bt/random.hpp).
#include "bt/random.hpp"

#include "bt/ct.hpp"

#include "bt/secure.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <cstdint>
#include <cstdio>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>
#endif

namespace bt {

// ================================================================ wiping

void secure_wipe(void* p, std::size_t n) {
    volatile unsigned char* v = static_cast<volatile unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) v[i] = 0;
}

namespace {
// Secrets get whole pages (4 KiB, or the system's page if larger: madvise needs page
// boundaries).
std::size_t page_size() {
#if defined(__linux__)
    static const std::size_t p = [] {
        const long s = ::sysconf(_SC_PAGESIZE);
        return s >= 4096 && (s & (s - 1)) == 0 ? static_cast<std::size_t>(s) : std::size_t{4096};
    }();
    return p;
#else
    return 4096;
#endif
}
std::size_t page_round(std::size_t bytes) {
    const std::size_t k = page_size();
    return bytes == 0 ? k : (bytes + k - 1) / k * k;
}
}  // namespace

void* secure_alloc(std::size_t bytes) {
    if (bytes > SIZE_MAX - page_size()) throw std::bad_alloc();
    const std::size_t n = page_round(bytes);
    void* p = ::operator new(n, std::align_val_t{page_size()});
#if defined(__linux__) && defined(MADV_DONTDUMP)
    (void)::madvise(p, n, MADV_DONTDUMP);  // best effort: a failure leaves the pages dumpable
#endif
    return p;
}

void secure_free(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    const std::size_t n = page_round(bytes);
    secure_wipe(p, n);
#if defined(__linux__) && defined(MADV_DODUMP)
    (void)::madvise(p, n, MADV_DODUMP);  // the pages may next hold data that belongs in a dump
#endif
    ::operator delete(p, std::align_val_t{page_size()});
}

bool excluded_from_core_dumps(const void* p) {
#if defined(__linux__)
    std::FILE* f = std::fopen("/proc/self/smaps", "r");
    if (!f) return false;
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    char line[512];
    bool inside = false, found = false;
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo = 0, hi = 0;
        if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            inside = a >= lo && a < hi;
        } else if (inside && std::strncmp(line, "VmFlags:", 8) == 0) {
            found = std::strstr(line, " dd") != nullptr;
            break;
        }
    }
    std::fclose(f);
    return found;
#else
    (void)p;
    return false;
#endif
}

// ================================================================ OS seed

Seed os_random_seed() {
    Seed s{};
#if defined(__linux__)
    std::size_t got = 0;
    while (got < s.size()) {
        const ssize_t r = getrandom(s.data() + got, s.size() - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno) +
                                     "; the OS CSPRNG is required for keys and encryption");
        }
        got += static_cast<std::size_t>(r);
    }
#else
#error "os_random_seed: add the OS CSPRNG call for this platform (getentropy/arc4random_buf)"
#endif
    return s;
}

// ================================================================ ChaCha20 (RFC 8439)

namespace {

inline std::uint32_t rotl(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline void quarter(std::uint32_t* s, int a, int b, int c, int d) {
    s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl(s[d], 16);
    s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl(s[b], 12);
    s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl(s[d], 8);
    s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl(s[b], 7);
}

inline std::uint32_t load32_le(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

inline void store32_le(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace

void chacha20_block(const Seed& key, const std::uint32_t words12_15[4], std::uint8_t out[64]) {
    std::uint32_t init[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};  // "expand 32-byte k"
    for (int i = 0; i < 8; ++i) init[4 + i] = load32_le(key.data() + 4 * i);
    for (int i = 0; i < 4; ++i) init[12 + i] = words12_15[i];
    std::uint32_t s[16];
    std::memcpy(s, init, sizeof s);
    for (int round = 0; round < 10; ++round) {  // 20 rounds: 10 column + 10 diagonal
        quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13); quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15);
        quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12); quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; ++i) store32_le(out + 4 * i, s[i] + init[i]);
    secure_wipe(s, sizeof s);
    secure_wipe(init, sizeof init);
}

namespace {
thread_local bool g_secret_randomness = false;  // ct-check builds only (bt/ct.hpp)
}  // namespace

void ct_secret_randomness(bool on) { g_secret_randomness = on; }

Prng::Prng(const Seed& seed, std::uint64_t stream) : key_(seed), stream_(stream) {}

Prng::Prng(Prng&& o) noexcept : key_(o.key_), counter_(o.counter_), stream_(o.stream_), pos_(o.pos_) {
    std::memcpy(buf_, o.buf_, sizeof buf_);
    secure_wipe(o.key_.data(), o.key_.size());
    secure_wipe(o.buf_, sizeof o.buf_);
    o.pos_ = 64;
}

Prng::~Prng() {
    secure_wipe(key_.data(), key_.size());
    secure_wipe(buf_, sizeof buf_);
}

void Prng::refill() {
    const std::uint32_t w[4] = {static_cast<std::uint32_t>(counter_), static_cast<std::uint32_t>(counter_ >> 32),
                                static_cast<std::uint32_t>(stream_), static_cast<std::uint32_t>(stream_ >> 32)};
    chacha20_block(key_, w, buf_);
    ++counter_;
    pos_ = 0;
}

void Prng::fill(void* out, std::size_t bytes) {
    std::uint8_t* o = static_cast<std::uint8_t*>(out);
    while (bytes > 0) {
        if (pos_ == 64) refill();
        const std::size_t take = bytes < 64 - pos_ ? bytes : 64 - pos_;
        std::memcpy(o, buf_ + pos_, take);
        if (g_secret_randomness) BT_CT_SECRET(o, take);
        secure_wipe(buf_ + pos_, take);  // served bytes do not stay behind
        pos_ += take;
        o += take;
        bytes -= take;
    }
}

std::uint64_t Prng::next_u64() {
    std::uint8_t b[8];
    fill(b, 8);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
    return v;
}

std::uint32_t Prng::next_u32() {
    std::uint8_t b[4];
    fill(b, 4);
    return load32_le(b);
}

// ================================================================ samplers

void sample_uniform_mod(Prng& prng, u64 q, u64* out, std::size_t n) {
    if (q == 0) throw std::invalid_argument("sample_uniform_mod: q = 0");
    const int bits = bit_length(q - 1);
    const u64 mask = bits == 64 ? ~u64{0} : (u64{1} << bits) - 1;
    for (std::size_t i = 0; i < n; ++i) {
        u64 x;
        for (;;) {
            x = prng.next_u64() & mask;
            bool reject = x >= q;
            BT_CT_PUBLIC(&reject, sizeof reject);  // rejects only values that are never output: no bias
            if (!reject) break;
        }
        out[i] = x;
    }
}

void sample_ternary(Prng& prng, std::int8_t* out, std::size_t n) {
    std::size_t i = 0;
    std::uint8_t bytes[64];
    while (i < n) {
        prng.fill(bytes, sizeof bytes);
        for (std::size_t b = 0; b < sizeof bytes && i < n; ++b) {
            for (int k = 0; k < 4 && i < n; ++k) {
                const int v = (bytes[b] >> (2 * k)) & 3;
                bool reject = v == 3;
                BT_CT_PUBLIC(&reject, sizeof reject);  // rejected draws carry no information on outputs
                if (reject) continue;
                out[i++] = static_cast<std::int8_t>(v - 1);
            }
        }
    }
    secure_wipe(bytes, sizeof bytes);
}

namespace {

// Branch-free compare-exchange: after it, k[i] <= k[j] (values move with their keys).
inline void cswap(u64* k, std::int8_t* v, std::size_t i, std::size_t j) {
    const u64 a = k[i], b = k[j];
    const u64 m = u64{0} - static_cast<u64>(a > b);
    const u64 dk = (a ^ b) & m;
    k[i] = a ^ dk;
    k[j] = b ^ dk;
    const std::int8_t vm = static_cast<std::int8_t>(m & 0xff);
    const std::int8_t dv = static_cast<std::int8_t>((v[i] ^ v[j]) & vm);
    v[i] = static_cast<std::int8_t>(v[i] ^ dv);
    v[j] = static_cast<std::int8_t>(v[j] ^ dv);
}

}  // namespace

void sample_sparse_ternary(Prng& prng, std::size_t h, std::int8_t* out, std::size_t n) {
    if (h > n) throw std::invalid_argument("sample_sparse_ternary: weight " + std::to_string(h) +
                                           " exceeds length " + std::to_string(n));
    std::size_t m = 1;
    while (m < n) m <<= 1;
    SecureVector<u64> keys(m);
    SecureVector<std::int8_t> vals(m, 0);
    for (std::size_t i = 0; i < m; ++i) {
        const u64 r = prng.next_u64();
        keys[i] = i < n ? (r >> 1) : ~u64{0};  // padding sorts last
        // The first h entries are ±1 from the low bit of r; all others 0.
        const std::int8_t sign = static_cast<std::int8_t>(2 * static_cast<int>(r & 1) - 1);
        vals[i] = i < h ? sign : 0;
    }
    // Bitonic sorting network on (key, value): the access pattern depends on m only.
    for (std::size_t size = 2; size <= m; size <<= 1)
        for (std::size_t stride = size >> 1; stride > 0; stride >>= 1)
            for (std::size_t i = 0; i < m; ++i) {
                const std::size_t j = i ^ stride;
                if (j <= i) continue;
                if ((i & size) == 0)
                    cswap(keys.data(), vals.data(), i, j);
                else
                    cswap(keys.data(), vals.data(), j, i);
            }
    for (std::size_t i = 0; i < n; ++i) out[i] = vals[i];
}

void sample_gaussian(Prng& prng, double sigma, std::int64_t* out, std::size_t n, int bound) {
    if (!(sigma > 0.1 && sigma < 1e4)) throw std::invalid_argument("sample_gaussian: sigma out of range");
    if (bound <= 0) bound = static_cast<int>(std::ceil(6 * sigma));
    // Cumulative table of |x|: P(0) ∝ ρ(0), P(k) ∝ 2ρ(k) for k >= 1, ρ(k) = exp(-k²/(2σ²)).
    std::vector<long double> rho(static_cast<std::size_t>(bound) + 1);
    long double total = 0;
    for (int k = 0; k <= bound; ++k) {
        rho[static_cast<std::size_t>(k)] = std::exp(-static_cast<long double>(k) * k / (2.0L * sigma * sigma)) *
                                           (k == 0 ? 1 : 2);
        total += rho[static_cast<std::size_t>(k)];
    }
    std::vector<u64> cdt(static_cast<std::size_t>(bound));  // cdt[k] = 2^63 · P(|x| <= k)
    long double acc = 0;
    for (int k = 0; k < bound; ++k) {
        acc += rho[static_cast<std::size_t>(k)] / total;
        cdt[static_cast<std::size_t>(k)] = static_cast<u64>(acc * 9223372036854775808.0L);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const u64 r = prng.next_u64();
        const u64 u = r >> 1;  // 63 uniform bits
        const u64 s = r & 1;   // sign
        u64 mag = 0;
        for (u64 c : cdt) mag += 1 - ((u - c) >> 63);  // u >= c, without a branch
        out[i] = static_cast<std::int64_t>((mag ^ (u64{0} - s)) + s);  // ±mag
    }
}

}  // namespace bt
