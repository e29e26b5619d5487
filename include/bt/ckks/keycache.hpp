// The expanded key cache: evaluation keys on disk in the form key switching reads them
// (b_j and the expanded a_j of every digit), memory-mapped read-only.
//
// Key files travel seed-compressed (only b_j and a 32-byte seed per key); expanding the a_j
// costs one ChaCha20 stream per limb (~0.3 GB/s per core) and doubles the memory. A server
// expands once, writes the result here and maps it afterwards: processes on one node share
// one copy through the page cache, a mapped key costs no anonymous memory, and a machine
// short of RAM pages keys from disk instead of being killed. A mapped SwitchingKey owns no
// polynomials; key switching reads its words through SwitchingKey::b_limb / a_limb.
//
// File layout (little-endian; version kKeyCacheVersion):
//   header, 64 bytes: "BTKC", u16 version, u16 0, u32 entries, u64 source, u64 table
//     checksum, u64 data offset, u64 file size, 16 zero bytes
//   entries table, 96 bytes each: u32 set, u32 max_level, u64 id, u64 params fingerprint,
//     u32 digits, u32 limbs, u64 N, 32-byte seed, u64 data offset, u64 data checksum, u64 0
//   key data, each key at a 4096-byte boundary: digit after digit, b_j then a_j, limb after
//     limb, N words each.
// `source` identifies what the keys were expanded from (the caller's digest of its key
// files' headers): a cache whose source, version, size or checksums disagree is refused
// (KeyCacheRejected, with the reason) and the caller rebuilds it. Checksums are verified
// in full at open, in parallel (4-lane word-wise FNV-1a: every changed word changes it).
// The cache is the server's own derived file, never received from the other side.
#pragma once

#include "bt/ckks/keys.hpp"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bt::ckks {

constexpr std::uint16_t kKeyCacheVersion = 1;

// A cache that cannot be used (missing, stale, corrupt, truncated, other version).
struct KeyCacheRejected : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct KeyCacheEntry {
    std::uint32_t set = 0;   // the caller's name for a key set (relinearization, rotations, …)
    std::uint64_t id = 0;    // within the set: the Galois element, or 0
    const Params* P = nullptr;  // the parameters the key belongs to
    const SwitchingKey* key = nullptr;
};

// Writes the keys' expanded form to `path` (temporary name, renamed into place). Owned and
// mapped keys alike. Throws std::runtime_error on I/O errors or a key/params mismatch.
void write_key_cache(const std::string& path, std::uint64_t source, const std::vector<KeyCacheEntry>& keys);

// Bytes write_key_cache would write for these keys.
std::size_t key_cache_file_bytes(const std::vector<KeyCacheEntry>& keys);

class KeyCache {
public:
    // Maps `path` and verifies it against `source` (every checksum read in full).
    // KeyCacheRejected says why it cannot be used.
    static std::shared_ptr<const KeyCache> open(const std::string& path, std::uint64_t source);
    ~KeyCache();
    KeyCache(const KeyCache&) = delete;
    KeyCache& operator=(const KeyCache&) = delete;

    bool has(std::uint32_t set, std::uint64_t id) const;
    // Ids of a set, ascending.
    std::vector<std::uint64_t> ids(std::uint32_t set) const;
    // The key (set, id) as a mapped SwitchingKey for parameters P (fingerprint, N and limb
    // count checked); it keeps this cache mapped. Throws KeyCacheRejected if absent.
    SwitchingKey key(std::uint32_t set, std::uint64_t id, const Params& P) const;
    std::size_t mapped_bytes() const { return size_; }
    const std::string& path() const { return path_; }

    // (Internal: one row of the table.)
    struct Row {
        std::uint32_t set = 0, max_level = 0, digits = 0, limbs = 0;
        std::uint64_t id = 0, fingerprint = 0, n = 0, offset = 0, checksum = 0;
        Seed seed{};
    };

private:
    KeyCache() = default;
    std::string path_;
    const std::uint8_t* base_ = nullptr;
    std::size_t size_ = 0;
    std::vector<Row> rows_;
    std::weak_ptr<const KeyCache> self_;
};

}  // namespace bt::ckks
