// Tests for src/ckks/keycache.cpp: mapped keys switch keys bit-identically to owned keys
// (rotations plain and hoisted, relinearization, a round trip through serialization), and
// a cache that is stale (other source, other version), truncated, extended or bit-flipped
// anywhere (header, table, key words) is refused with the reason.
#include "doctest/doctest.h"

#include "ckks_test_util.hpp"
#include "../test_util.hpp"
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"
#include "bt/ckks/keycache.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/os.hpp"

#include <cmath>
#include <fstream>

using namespace bt;
using namespace bt::ckks;
using bt_test::seed_of;

namespace {

struct Keys {
    ParamsPtr P = preset("N10_test");
    KeyGenerator kg{P, seed_of(41)};
    SecretKey sk = kg.secret_key();
    RelinKey rk = kg.relin_key(sk);
    GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps({1, 3, -2}, 0, true));
    GaloisKeys low = kg.galois_keys(sk, kg.galois_elements_for_steps({5}), 1);  // level-limited
    std::vector<KeyCacheEntry> entries() const {
        std::vector<KeyCacheEntry> e{{0, 0, P.get(), &rk.key}};
        for (const auto& kv : gk.keys) e.push_back({1, kv.first, P.get(), &kv.second});
        for (const auto& kv : low.keys) e.push_back({2, kv.first, P.get(), &kv.second});
        return e;
    }
};

Keys& keys() {
    static Keys k;
    return k;
}

void flip_byte(const std::string& path, std::size_t offset) {
    std::vector<std::uint8_t> b = read_file(path);
    REQUIRE(offset < b.size());
    b[offset] ^= 0x10;
    write_file_atomic(path, b);
}

std::string refusal(const std::string& path, std::uint64_t source) {
    try {
        KeyCache::open(path, source);
    } catch (const KeyCacheRejected& e) {
        return e.what();
    }
    return "";
}

bool same_ct(const Ciphertext& a, const Ciphertext& b) {
    if (a.parts.size() != b.parts.size() || a.level != b.level) return false;
    for (std::size_t i = 0; i < a.parts.size(); ++i)
        if (a.parts[i].data != b.parts[i].data) return false;
    return true;
}

}  // namespace

TEST_SUITE("ckks") {

TEST_CASE("key cache: mapped keys give bit-identical key switches and serialize like owned keys") {
    const Keys& k = keys();
    bt_test::TempDir dir;
    const std::string path = dir.str() + "/keys.cache";
    write_key_cache(path, 77, k.entries());
    CHECK(file_size(path) == key_cache_file_bytes(k.entries()));
    const auto cache = KeyCache::open(path, 77);
    CHECK(cache->ids(1) == k.gk.elements());
    CHECK(cache->has(0, 0));
    CHECK_FALSE(cache->has(3, 0));

    RelinKey mrk{cache->key(0, 0, *k.P)};
    GaloisKeys mgk;
    mgk.fingerprint = k.gk.fingerprint;
    for (std::uint64_t g : cache->ids(1)) mgk.keys.emplace(g, cache->key(1, g, *k.P));
    for (std::uint64_t g : cache->ids(2)) mgk.keys.emplace(g, cache->key(2, g, *k.P));
    CHECK(mrk.key.mapped());
    CHECK(mrk.key.size_bytes() == 0);
    CHECK(mrk.key.mapped_bytes(*k.P) == k.rk.key.size_bytes());
    CHECK(mgk.keys.at(k.low.elements()[0]).max_level == 1);

    GaloisKeys owned = k.gk;
    for (const auto& kv : k.low.keys) owned.keys.emplace(kv.first, kv.second);
    const Evaluator ev_owned(k.P, &k.rk, &owned), ev_mapped(k.P, &mrk, &mgk);
    Encoder enc(k.P);
    std::vector<double> x(16);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.1 * static_cast<double>(i) - 0.7;
    Encryptor encr(k.P, k.sk, seed_of(42));
    const Ciphertext c = encr.encrypt(enc.encode(x, k.P->max_level(), 0, k.P->max_slots()));
    CHECK(same_ct(ev_owned.rotate(c, 3), ev_mapped.rotate(c, 3)));
    CHECK(same_ct(ev_owned.conjugate(c), ev_mapped.conjugate(c)));
    const std::vector<Ciphertext> ho = ev_owned.rotate_hoisted(c, {1, 3, -2}), hm = ev_mapped.rotate_hoisted(c, {1, 3, -2});
    REQUIRE(ho.size() == hm.size());
    for (std::size_t i = 0; i < ho.size(); ++i) CHECK(same_ct(ho[i], hm[i]));
    CHECK(same_ct(ev_owned.multiply_relin_rescale(c, c), ev_mapped.multiply_relin_rescale(c, c)));
    Ciphertext low = c;
    ev_owned.adjust_to_inplace(low, 1, k.P->nominal_scale(1));
    CHECK(same_ct(ev_owned.rotate(low, 5), ev_mapped.rotate(low, 5)));
    // A mapped key serializes to the same bytes as the owned one.
    CHECK(serialize(*k.P, mrk) == serialize(*k.P, k.rk));
    CHECK(serialize(*k.P, mgk) == serialize(*k.P, owned));
    // Keys outlive the cache object that made them (the mapping is shared).
    const SwitchingKey kept = cache->key(1, k.gk.elements()[0], *k.P);
    CHECK(kept.mapping.use_count() >= 2);
}

TEST_CASE("seeded keys: a_j regenerated at every use give bit-identical key switches with half the memory") {
    const Keys& k = keys();
    RelinKey srk = k.rk;
    GaloisKeys sgk = k.gk;
    drop_uniform_halves(srk.key);
    for (auto& kv : sgk.keys) drop_uniform_halves(kv.second);
    CHECK(srk.key.seeded);
    CHECK(srk.key.a.empty());
    CHECK(2 * srk.key.size_bytes() == k.rk.key.size_bytes());
    CHECK(2 * sgk.size_bytes() == k.gk.size_bytes());
    const Evaluator ev_full(k.P, &k.rk, &k.gk), ev_seeded(k.P, &srk, &sgk);
    Encoder enc(k.P);
    std::vector<double> x(64);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.3 * static_cast<double>(i));
    Encryptor encr(k.P, k.sk, seed_of(43));
    for (std::size_t level : {k.P->max_level(), std::size_t{1}}) {
        const Ciphertext c = encr.encrypt(enc.encode(x, level, 0, k.P->max_slots()));
        CHECK(same_ct(ev_full.rotate(c, 1), ev_seeded.rotate(c, 1)));
        CHECK(same_ct(ev_full.conjugate(c), ev_seeded.conjugate(c)));
        const auto hf = ev_full.rotate_hoisted(c, {1, 3, -2}), hs = ev_seeded.rotate_hoisted(c, {1, 3, -2});
        for (std::size_t i = 0; i < hf.size(); ++i) CHECK(same_ct(hf[i], hs[i]));
        if (level > 0) CHECK(same_ct(ev_full.multiply_relin_rescale(c, c), ev_seeded.multiply_relin_rescale(c, c)));
    }
    // They serialize as before (only b_j and the seed are ever written), and the cache refuses them.
    CHECK(serialize(*k.P, srk) == serialize(*k.P, k.rk));
    bt_test::TempDir dir;
    CHECK_THROWS_AS(write_key_cache(dir.str() + "/c", 1, {{0, 0, k.P.get(), &srk.key}}), std::invalid_argument);
}

TEST_CASE("key cache: stale, truncated, extended and corrupt caches are refused with the reason") {
    const Keys& k = keys();
    bt_test::TempDir dir;
    const std::string path = dir.str() + "/keys.cache";
    write_key_cache(path, 5, k.entries());
    const std::vector<std::uint8_t> good = read_file(path);
    CHECK(refusal(path, 5).empty());
    CHECK(refusal(path, 6).find("stale") != std::string::npos);             // other key files
    CHECK(refusal(dir.str() + "/none", 5).find("cannot open") != std::string::npos);
    SUBCASE("version") {
        std::vector<std::uint8_t> b = good;
        b[4] = static_cast<std::uint8_t>(kKeyCacheVersion + 1);
        write_file_atomic(path, b);
        CHECK(refusal(path, 5).find("version") != std::string::npos);
    }
    SUBCASE("truncated and extended") {
        write_file_atomic(path, good.data(), good.size() - 4096);
        CHECK(refusal(path, 5).find("truncated") != std::string::npos);
        std::vector<std::uint8_t> b = good;
        b.resize(b.size() + 4096, 0);
        write_file_atomic(path, b);
        CHECK(refusal(path, 5).find("extended") != std::string::npos);
        write_file_atomic(path, good.data(), 10);
        CHECK(refusal(path, 5).find("truncated") != std::string::npos);
    }
    SUBCASE("a bit flipped in the table, a key's b, its a, and its last word") {
        flip_byte(path, 64 + 96 + 9);  // the id of the second entry
        CHECK(refusal(path, 5).find("corrupt") != std::string::npos);
        write_file_atomic(path, good);
        flip_byte(path, 4096 + 8);     // the first key's b_0
        CHECK(refusal(path, 5).find("checksum mismatch in key 0") != std::string::npos);
        write_file_atomic(path, good);
        const std::size_t poly = (k.P->max_level() + 1 + k.P->p_count()) * k.P->N() * 8;
        flip_byte(path, 4096 + poly + 3);  // the first key's a_0
        CHECK(refusal(path, 5).find("checksum mismatch in key 0") != std::string::npos);
        write_file_atomic(path, good);
        // The last key (the level-limited one) ends before the file's final padding.
        const std::size_t last = 2 * k.P->digits_at(1) * (2 + k.P->p_count()) * k.P->N() * 8;
        const std::size_t last_at = good.size() - (last + 4095) / 4096 * 4096;
        flip_byte(path, last_at + last - 1);
        CHECK(refusal(path, 5).find("checksum mismatch in key " + std::to_string(k.entries().size() - 1)) !=
              std::string::npos);
    }
    SUBCASE("not a cache; keys asked for other parameters") {
        write_file_atomic(path, std::string(200, 'x'));
        CHECK(refusal(path, 5).find("magic") != std::string::npos);
        write_file_atomic(path, good);
        const auto c = KeyCache::open(path, 5);
        const ParamsPtr other = preset("N12_test");
        CHECK_THROWS_AS(c->key(0, 0, *other), KeyCacheRejected);
        CHECK_THROWS_AS(c->key(9, 0, *k.P), KeyCacheRejected);
    }
}

}  // TEST_SUITE
