// The expanded key cache (see bt/ckks/keycache.hpp).
#include "bt/ckks/keycache.hpp"

#include "bt/os.hpp"
#include "bt/threadpool.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bt::ckks {

namespace {

constexpr std::size_t kHeader = 64, kRow = 96, kAlign = 4096;

std::size_t align_up(std::size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// 4-lane word-wise FNV-1a: each lane step (xor a word, multiply by an odd constant) is a
// bijection of the lane, so any single changed word changes its lane and the result; the
// lanes are independent, so the multiplies overlap (memory speed, not latency bound).
std::uint64_t words_checksum(const u64* w, std::size_t n) {
    std::uint64_t h[4] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x9ce484222325cbf2ull, 0x2325cbf29ce48422ull};
    constexpr std::uint64_t kPrime = 0x100000001b3ull;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; ++k) h[k] = (h[k] ^ w[i + static_cast<std::size_t>(k)]) * kPrime;
    for (; i < n; ++i) h[0] = (h[0] ^ w[i]) * kPrime;
    std::uint64_t r = 0xcbf29ce484222325ull ^ n;
    for (std::uint64_t x : h) r = (r ^ x) * kPrime;
    return r;
}

// Checksum of one key's words, digit after digit (b_j then a_j), as they lie in the file.
std::uint64_t key_checksum(const std::vector<const u64*>& parts, std::size_t poly_words) {
    std::uint64_t r = 0x6b657963616368ull;  // "keycach"
    for (const u64* p : parts) r = (r ^ words_checksum(p, poly_words)) * 0x100000001b3ull;
    return r;
}

std::vector<const u64*> key_parts(const SwitchingKey& k) {
    if (k.seeded)
        throw std::invalid_argument("write_key_cache: a seeded key (its a_j released) has no expanded form to write; "
                                    "cache keys as loaded");
    std::vector<const u64*> v;
    for (std::size_t j = 0; j < k.digits(); ++j) {
        v.push_back(k.mapped() ? k.mapped_b[j] : k.b[j].data.data());
        v.push_back(k.mapped() ? k.mapped_a[j] : k.a[j].data.data());
    }
    return v;
}

struct Bytes {
    std::vector<std::uint8_t> b;
    void u16(std::uint16_t v) { le(v, 2); }
    void u32(std::uint32_t v) { le(v, 4); }
    void u64(std::uint64_t v) { le(v, 8); }
    void le(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void raw(const void* p, std::size_t n) {
        const auto* c = static_cast<const std::uint8_t*>(p);
        b.insert(b.end(), c, c + n);
    }
    void pad_to(std::size_t n) { b.resize(n, 0); }
};

std::uint64_t get_le(const std::uint8_t* p, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

std::string hex(std::uint64_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

}  // namespace

std::size_t key_cache_file_bytes(const std::vector<KeyCacheEntry>& keys) {
    std::size_t off = align_up(kHeader + kRow * keys.size());
    for (const KeyCacheEntry& e : keys)
        off = align_up(off + 2 * e.key->digits() * (e.key->max_level + 1 + e.P->p_count()) * e.P->N() * sizeof(u64));
    return off;
}

void write_key_cache(const std::string& path, std::uint64_t source, const std::vector<KeyCacheEntry>& keys) {
    // Per-key checksums first (in parallel), so the header and table go out before the data.
    std::vector<std::uint64_t> sums(keys.size());
    for (const KeyCacheEntry& e : keys) {
        check_fingerprint(*e.P, e.key->fingerprint, "a key written to the key cache");
        if (e.key->digits() != e.P->digits_at(e.key->max_level))
            throw std::invalid_argument("write_key_cache: a key has " + std::to_string(e.key->digits()) +
                                        " digits, its levels need " + std::to_string(e.P->digits_at(e.key->max_level)));
    }
    parallel_for(keys.size(), [&](std::size_t i, unsigned) {
        const KeyCacheEntry& e = keys[i];
        sums[i] = key_checksum(key_parts(*e.key), (e.key->max_level + 1 + e.P->p_count()) * e.P->N());
    });
    Bytes t;
    std::size_t off = align_up(kHeader + kRow * keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const KeyCacheEntry& e = keys[i];
        const std::size_t limbs = e.key->max_level + 1 + e.P->p_count();
        t.u32(e.set);
        t.u32(static_cast<std::uint32_t>(e.key->max_level));
        t.u64(e.id);
        t.u64(e.P->fingerprint());
        t.u32(static_cast<std::uint32_t>(e.key->digits()));
        t.u32(static_cast<std::uint32_t>(limbs));
        t.u64(e.P->N());
        t.raw(e.key->seed.data(), e.key->seed.size());
        t.u64(off);
        t.u64(sums[i]);
        t.u64(0);  // reserved
        off = align_up(off + 2 * e.key->digits() * limbs * e.P->N() * sizeof(u64));
    }
    const std::size_t total = off;
    Bytes h;
    h.raw("BTKC", 4);
    h.u16(kKeyCacheVersion);
    h.u16(0);
    h.u32(static_cast<std::uint32_t>(keys.size()));
    h.u64(source);
    h.u64(words_checksum(reinterpret_cast<const u64*>(t.b.data()), t.b.size() / 8));
    h.u64(align_up(kHeader + kRow * keys.size()));
    h.u64(total);
    h.pad_to(kHeader);
    h.raw(t.b.data(), t.b.size());
    h.pad_to(align_up(h.b.size()));
    AtomicFile f(path, 0644);
    f.write(h.b.data(), h.b.size());
    static const std::vector<std::uint8_t> zeros(kAlign, 0);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const KeyCacheEntry& e = keys[i];
        const std::size_t words = (e.key->max_level + 1 + e.P->p_count()) * e.P->N();
        for (const u64* p : key_parts(*e.key)) f.write(p, words * sizeof(u64));
        const std::size_t end = static_cast<std::size_t>(f.size());
        const std::size_t next = align_up(end);
        if (next > end) f.write(zeros.data(), next - end);
    }
    if (f.size() != total) throw std::logic_error("write_key_cache: wrote " + std::to_string(f.size()) + " bytes, planned " + std::to_string(total));
    f.commit();
}

std::shared_ptr<const KeyCache> KeyCache::open(const std::string& path, std::uint64_t source) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) throw KeyCacheRejected(path + ": cannot open (" + std::strerror(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw KeyCacheRejected(path + ": not a regular file");
    }
    const std::size_t size = static_cast<std::size_t>(st.st_size);
    if (size < kHeader) {
        ::close(fd);
        throw KeyCacheRejected(path + ": " + std::to_string(size) + " bytes, shorter than the header: truncated");
    }
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) throw KeyCacheRejected(path + ": cannot map (" + std::strerror(errno) + ")");
    std::shared_ptr<KeyCache> c(new KeyCache());
    c->path_ = path;
    c->base_ = static_cast<const std::uint8_t*>(m);
    c->size_ = size;  // from here the destructor unmaps
    const std::uint8_t* p = c->base_;
    auto reject = [&](const std::string& why) -> void { throw KeyCacheRejected(path + ": " + why); };
    if (std::memcmp(p, "BTKC", 4) != 0) reject("not a BlindTuner key cache (no BTKC magic)");
    if (get_le(p + 4, 2) != kKeyCacheVersion)
        reject("cache format version " + std::to_string(get_le(p + 4, 2)) + ", this build writes " +
               std::to_string(kKeyCacheVersion) + ": stale");
    const std::size_t n = get_le(p + 8, 4);
    if (get_le(p + 12, 8) != source)
        reject("made from other key files (source " + hex(get_le(p + 12, 8)) + ", the key files now give " + hex(source) +
               "): stale");
    const std::size_t data = get_le(p + 28, 8), total = get_le(p + 36, 8);
    if (total != size) reject("the header says " + std::to_string(total) + " bytes, the file has " + std::to_string(size) + ": truncated or extended");
    if (n > (size - kHeader) / kRow || data != align_up(kHeader + kRow * n)) reject("the entry table does not fit the file");
    if (words_checksum(reinterpret_cast<const u64*>(p + kHeader), n * kRow / 8) != get_le(p + 20, 8))
        reject("entry table checksum mismatch: corrupt");
    std::size_t expect = data;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* r = p + kHeader + i * kRow;
        Row row;
        row.set = static_cast<std::uint32_t>(get_le(r, 4));
        row.max_level = static_cast<std::uint32_t>(get_le(r + 4, 4));
        row.id = get_le(r + 8, 8);
        row.fingerprint = get_le(r + 16, 8);
        row.digits = static_cast<std::uint32_t>(get_le(r + 24, 4));
        row.limbs = static_cast<std::uint32_t>(get_le(r + 28, 4));
        row.n = get_le(r + 32, 8);
        std::memcpy(row.seed.data(), r + 40, 32);
        row.offset = get_le(r + 72, 8);
        row.checksum = get_le(r + 80, 8);
        const double bytes = 2.0 * row.digits * row.limbs * static_cast<double>(row.n) * 8;
        if (row.offset != expect || row.offset > size || row.n == 0 || row.digits == 0 || row.limbs == 0 ||
            bytes > static_cast<double>(size - row.offset))
            reject("entry " + std::to_string(i) + " does not fit the file: corrupt");
        expect = align_up(row.offset + static_cast<std::size_t>(bytes));
        c->rows_.push_back(row);
    }
    if (expect != size) reject("the entries end at " + std::to_string(expect) + ", the file at " + std::to_string(size) + ": corrupt");
    // Every key's words, in parallel (one key per task).
    std::atomic<long> bad{-1};
    parallel_for(c->rows_.size(), [&](std::size_t i, unsigned) {
        const Row& r = c->rows_[i];
        const std::size_t words = static_cast<std::size_t>(r.limbs * r.n);
        std::vector<const u64*> parts;
        for (std::size_t k = 0; k < 2 * r.digits; ++k)
            parts.push_back(reinterpret_cast<const u64*>(c->base_ + r.offset) + k * words);
        if (key_checksum(parts, words) != r.checksum) bad.store(static_cast<long>(i));
    });
    if (bad.load() >= 0) reject("checksum mismatch in key " + std::to_string(bad.load()) + ": corrupt");
    c->self_ = c;
    return c;
}

KeyCache::~KeyCache() {
    if (base_) ::munmap(const_cast<std::uint8_t*>(base_), size_);
}

bool KeyCache::has(std::uint32_t set, std::uint64_t id) const {
    for (const Row& r : rows_)
        if (r.set == set && r.id == id) return true;
    return false;
}

std::vector<std::uint64_t> KeyCache::ids(std::uint32_t set) const {
    std::vector<std::uint64_t> v;
    for (const Row& r : rows_)
        if (r.set == set) v.push_back(r.id);
    std::sort(v.begin(), v.end());
    return v;
}

SwitchingKey KeyCache::key(std::uint32_t set, std::uint64_t id, const Params& P) const {
    for (const Row& r : rows_) {
        if (r.set != set || r.id != id) continue;
        if (r.fingerprint != P.fingerprint() || r.n != P.N() || r.max_level > P.max_level() ||
            r.limbs != r.max_level + 1 + P.p_count() || r.digits != P.digits_at(r.max_level))
            throw KeyCacheRejected(path_ + ": key (set " + std::to_string(set) + ", id " + std::to_string(id) +
                                   ") was made for other parameters: stale");
        SwitchingKey k;
        k.fingerprint = r.fingerprint;
        k.seed = r.seed;
        k.max_level = r.max_level;
        const std::size_t words = static_cast<std::size_t>(r.limbs * r.n);
        const u64* w = reinterpret_cast<const u64*>(base_ + r.offset);
        for (std::size_t j = 0; j < r.digits; ++j) {
            k.mapped_b.push_back(w + 2 * j * words);
            k.mapped_a.push_back(w + (2 * j + 1) * words);
        }
        k.mapping = self_.lock();
        return k;
    }
    throw KeyCacheRejected(path_ + ": no key (set " + std::to_string(set) + ", id " + std::to_string(id) + "): stale");
}

}  // namespace bt::ckks
