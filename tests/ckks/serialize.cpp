// Tests for src/ckks/serialize.cpp: round trips of every object, golden files (a format
// change breaks them: regenerate deliberately with BT_WRITE_GOLDEN=1 and bump
// kFormatVersion), and refusal of truncated, bit-flipped, out-of-range, wrong-type and
// wrong-parameter inputs with clear messages.
#include "doctest/doctest.h"

#include "ckks_test_util.hpp"
#include "../test_util.hpp"
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/os.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>

using namespace bt;
using namespace bt::ckks;
using bt_test::seed_of;

namespace {

struct Small {
    ParamsPtr P = preset("N10_test");
    KeyGenerator kg{P, seed_of(21)};
    SecretKey sk = kg.secret_key();
    PublicKey pk = kg.public_key(sk);
    RelinKey rk = kg.relin_key(sk);
    GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps({1, -2}, 0, true));
    Encoder enc{P};
    std::vector<double> x{0.5, -0.25, 0.125, 1.0};
    Plaintext pt = enc.encode(x, 1, 0, 4);
    Ciphertext ct = Encryptor(P, sk, seed_of(22)).encrypt(pt);
};

Small& sm() {
    static Small s;
    return s;
}

// The checksum of the format, recomputed here to forge a file whose only defect is
// an out-of-range residue.
void fix_checksum(std::vector<std::uint8_t>& b) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    std::size_t i = kHeaderBytes;
    for (; i + 8 <= b.size(); i += 8) {
        std::uint64_t w = 0;
        for (int k = 7; k >= 0; --k) w = (w << 8) | b[i + static_cast<std::size_t>(k)];
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < b.size(); ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    for (int k = 0; k < 8; ++k) b[24 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(h >> (8 * k));
}

std::vector<double> decrypt_real(const Small& s, const Ciphertext& c) {
    const auto z = s.enc.decode(Decryptor(s.P, s.sk).decrypt(c));
    std::vector<double> r;
    for (const auto& v : z) r.push_back(v.real());
    return r;
}

}  // namespace

TEST_SUITE("ckks") {

TEST_CASE("serialize: round trips of every object") {
    Small& s = sm();
    const Params& P = *s.P;
    // Parameters.
    const auto pb = serialize(P);
    CHECK(deserialize_params(pb)->fingerprint() == P.fingerprint());
    // Secret key: same NTT form after reload.
    const SecretKey sk2 = deserialize_secret_key(P, serialize(P, s.sk));
    CHECK(std::equal(sk2.ntt.begin(), sk2.ntt.end(), s.sk.ntt.begin()));
    // Public key, seed-compressed: a regenerated.
    const PublicKey pk2 = deserialize_public_key(P, serialize(P, s.pk));
    CHECK(pk2.a.data == s.pk.a.data);
    CHECK(pk2.b.data == s.pk.b.data);
    // Relinearization and Galois keys: seeded halves regenerated, exact size known.
    const auto rkb = serialize(P, s.rk);
    CHECK(rkb.size() == serialized_size(P, s.rk));
    CHECK(rkb.size() < s.rk.key.size_bytes() / 2 + 1000);  // seed compression halves it
    const RelinKey rk2 = deserialize_relin_key(P, rkb);
    for (std::size_t j = 0; j < P.dnum(); ++j) {
        CHECK(rk2.key.a[j].data == s.rk.key.a[j].data);
        CHECK(rk2.key.b[j].data == s.rk.key.b[j].data);
    }
    const auto gkb = serialize(P, s.gk);
    CHECK(gkb.size() == serialized_size(P, s.gk));
    const GaloisKeys gk2 = deserialize_galois_keys(P, gkb);
    CHECK(gk2.elements() == s.gk.elements());
    // Ciphertext and plaintext.
    const auto cb = serialize(P, s.ct);
    CHECK(cb.size() == serialized_size(P, s.ct));
    const Ciphertext ct2 = deserialize_ciphertext(P, cb);
    CHECK(ct2.parts[0].data == s.ct.parts[0].data);
    CHECK(ct2.scale == s.ct.scale);
    const Plaintext pt2 = deserialize_plaintext(P, serialize(P, s.pt));
    CHECK(pt2.poly.data == s.pt.poly.data);
    // Keys reloaded from bytes work: rotate with reloaded Galois keys.
    Evaluator ev(s.P, &rk2, &gk2);
    const auto r = decrypt_real(s, ev.rotate(ct2, 1));
    CHECK(std::fabs(r[0] - s.x[1]) < 1e-6);
    CHECK(std::fabs(r[3] - s.x[0]) < 1e-6);
}

TEST_CASE("serialize: golden files still load (format unchanged)") {
    Small& s = sm();
    const Params& P = *s.P;
    const char* names[] = {"params.bthe", "secret_key.bthe", "public_key.bthe", "ciphertext.bthe", "plaintext.bthe"};
    if (std::getenv("BT_WRITE_GOLDEN")) {
        const std::vector<std::uint8_t> objs[] = {serialize(P), serialize(P, s.sk), serialize(P, s.pk),
                                                  serialize(P, s.ct), serialize(P, s.pt)};
        for (int i = 0; i < 5; ++i) write_file_atomic(std::string("tests/ckks/golden/") + names[i], objs[i]);
        MESSAGE("wrote golden files under tests/ckks/golden/");
    }
    const auto gp = read_file(bt_test::data_path("ckks/golden/params.bthe"));
    const ParamsPtr GP = deserialize_params(gp);
    CHECK(serialize(*GP) == gp);
    const auto gsk = read_file(bt_test::data_path("ckks/golden/secret_key.bthe"));
    const SecretKey sk = deserialize_secret_key(*GP, gsk);
    CHECK(serialize(*GP, sk) == gsk);
    const auto gpk = read_file(bt_test::data_path("ckks/golden/public_key.bthe"));
    CHECK(serialize(*GP, deserialize_public_key(*GP, gpk)) == gpk);
    const auto gct = read_file(bt_test::data_path("ckks/golden/ciphertext.bthe"));
    const Ciphertext ct = deserialize_ciphertext(*GP, gct);
    CHECK(serialize(*GP, ct) == gct);
    const auto gpt = read_file(bt_test::data_path("ckks/golden/plaintext.bthe"));
    CHECK(serialize(*GP, deserialize_plaintext(*GP, gpt)) == gpt);
    // The golden ciphertext decrypts with the golden key to the golden message.
    const Encoder enc(GP);
    const auto z = enc.decode(Decryptor(GP, sk).decrypt(ct));
    const double expect[] = {0.5, -0.25, 0.125, 1.0};
    for (int i = 0; i < 4; ++i) CHECK(std::fabs(z[static_cast<std::size_t>(i)].real() - expect[i]) < 1e-6);
}

TEST_CASE("serialize: truncated, corrupted and mismatched inputs are refused with clear messages") {
    Small& s = sm();
    const Params& P = *s.P;
    const auto good = serialize(P, s.ct);
    // Truncation anywhere.
    for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{20}, kHeaderBytes, kHeaderBytes + 10,
                            good.size() / 2, good.size() - 1}) {
        std::vector<std::uint8_t> t(good.begin(), good.begin() + static_cast<long>(cut));
        CAPTURE(cut);
        CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, t), doctest::Contains("trunc"), std::runtime_error);
    }
    // Trailing bytes.
    auto longer = good;
    longer.push_back(0);
    CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, longer), doctest::Contains("trailing"), std::runtime_error);
    // Header fields.
    auto bad = good;
    bad[0] = 'X';
    CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, bad), doctest::Contains("not a BlindTuner HE file"), std::runtime_error);
    bad = good;
    bad[4] = 9;
    CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, bad), doctest::Contains("format version 9"), std::runtime_error);
    bad = good;
    bad[6] = static_cast<std::uint8_t>(ObjectType::PublicKey);
    CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, bad), doctest::Contains("holds a public key"), std::runtime_error);
    // Every single-bit flip in the payload is caught (sampled positions).
    for (std::size_t pos = kHeaderBytes; pos < good.size(); pos += 997) {
        bad = good;
        bad[pos] ^= 0x10;
        CAPTURE(pos);
        CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, bad), doctest::Contains("checksum"), std::runtime_error);
    }
    // A residue not below its modulus, with a valid checksum.
    bad = good;
    for (std::size_t k = 0; k < 8; ++k) bad[kHeaderBytes + 24 + k] = 0xff;
    fix_checksum(bad);
    CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, bad), doctest::Contains("not below its modulus"), std::runtime_error);
    // A level the parameters do not have.
    bad = good;
    bad[kHeaderBytes + 4] = 40;
    fix_checksum(bad);
    CHECK_THROWS_WITH_AS(deserialize_ciphertext(P, bad), doctest::Contains("above the parameters' top level"),
                         std::runtime_error);
    // Other parameters.
    auto other = preset("N12_test");
    CHECK_THROWS_WITH_AS(deserialize_ciphertext(*other, good), doctest::Contains("other CKKS parameters"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(deserialize_relin_key(*other, serialize(P, s.rk)), doctest::Contains("other CKKS parameters"),
                         std::runtime_error);
    // A corrupted secret key coefficient.
    auto skb = serialize(P, s.sk);
    skb[kHeaderBytes + 5] = 7;
    fix_checksum(skb);
    CHECK_THROWS_WITH_AS(deserialize_secret_key(P, skb), doctest::Contains("not in {-1, 0, 1}"), std::runtime_error);
    // Missing file.
    CHECK_THROWS_WITH_AS(read_file("/nonexistent/x.bthe"), doctest::Contains("cannot open"), std::runtime_error);
}

TEST_CASE("serialize: files are written atomically") {
    Small& s = sm();
    const bt_test::TempDir dir;
    const std::string path = dir.str() + "/test_atomic.bthe";
    const auto bytes = serialize(*s.P, s.ct);
    write_file_atomic(path, bytes);
    CHECK(read_file(path) == bytes);
    CHECK_FALSE(std::ifstream(bt::temp_path_for(path)).good());
    std::remove(path.c_str());
}

}  // TEST_SUITE

TEST_SUITE("ckks") {

TEST_CASE("serialize: level-limited keys round trip with their size") {
    Small& s = sm();
    const Params& P = *s.P;
    const GaloisKeys low = s.kg.galois_keys(s.sk, s.kg.galois_elements_for_steps({1}), 1);
    const auto b = serialize(P, low);
    CHECK(b.size() == serialized_size(P, low));
    const GaloisKeys back = deserialize_galois_keys(P, b);
    const SwitchingKey& k0 = low.keys.begin()->second;
    const SwitchingKey& k1 = back.keys.begin()->second;
    CHECK(k1.max_level == 1);
    CHECK(k1.b.size() == k0.b.size());
    for (std::size_t j = 0; j < k0.b.size(); ++j) {
        CHECK(k1.a[j].data == k0.a[j].data);
        CHECK(k1.b[j].data == k0.b[j].data);
    }
}

}  // TEST_SUITE
