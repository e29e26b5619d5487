// Serialization of CKKS objects (see bt/ckks/serialize.hpp).
#include "bt/ckks/serialize.hpp"

#include "bt/ckks/encryptor.hpp"

#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>
#include <stdexcept>

namespace bt::ckks {

// The header of a file image in memory (peek_header on a pointer; defined with it below).
HeaderInfo peek_header_at(const std::uint8_t* bytes, std::size_t size, const std::string& what);

namespace {

// ================================================================ byte helpers

class Writer {
public:
    void put8(std::uint8_t v) { buf.push_back(v); }
    void put16(std::uint16_t v) { le(v, 2); }
    void put32(std::uint32_t v) { le(v, 4); }
    void put64(std::uint64_t v) { le(v, 8); }
    void putf64(double v) {
        std::uint64_t b;
        std::memcpy(&b, &v, 8);
        le(b, 8);
    }
    void bytes(const void* p, std::size_t n) {
        const std::uint8_t* c = static_cast<const std::uint8_t*>(p);
        buf.insert(buf.end(), c, c + n);
    }
    void words(const u64* p, std::size_t n) {
        const std::size_t at = buf.size();
        buf.resize(at + 8 * n);
        for (std::size_t i = 0; i < n; ++i)
            for (int b = 0; b < 8; ++b) buf[at + 8 * i + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(p[i] >> (8 * b));
    }
    std::vector<std::uint8_t> buf;

private:
    void le(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) buf.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
};

class Reader {
public:
    Reader(const std::uint8_t* b, std::size_t start, std::size_t end, std::string what)
        : b_(b), pos_(start), end_(end), what_(std::move(what)) {}
    std::uint8_t get8() { return static_cast<std::uint8_t>(le(1)); }
    std::uint16_t get16() { return static_cast<std::uint16_t>(le(2)); }
    std::uint32_t get32() { return static_cast<std::uint32_t>(le(4)); }
    std::uint64_t get64() { return le(8); }
    double getf64() {
        const std::uint64_t v = le(8);
        double d;
        std::memcpy(&d, &v, 8);
        return d;
    }
    void bytes(void* p, std::size_t n) {
        need(n);
        std::memcpy(p, b_ + pos_, n);
        pos_ += n;
    }
    // n residues of limb with modulus q, each checked.
    void residues(u64* out, std::size_t n, u64 q, const char* field) {
        need(8 * n);
        const std::uint8_t* p = b_ + pos_;
        for (std::size_t i = 0; i < n; ++i) {
            u64 v = 0;
            for (int k = 7; k >= 0; --k) v = (v << 8) | p[8 * i + static_cast<std::size_t>(k)];
            if (v >= q) {
                char buf[256];
                std::snprintf(buf, sizeof buf, "%s: %s has residue %llu at word %zu, not below its modulus %llu: "
                              "the file is corrupt; regenerate or re-send it",
                              what_.c_str(), field, static_cast<unsigned long long>(v), i,
                              static_cast<unsigned long long>(q));
                throw std::runtime_error(buf);
            }
            out[i] = v;
        }
        pos_ += 8 * n;
    }
    void expect_end() const {
        if (pos_ != end_)
            throw std::runtime_error(what_ + ": " + std::to_string(end_ - pos_) +
                                     " unexpected bytes after the object: the file is corrupt");
    }
    [[noreturn]] void fail(const std::string& m) const { throw std::runtime_error(what_ + ": " + m); }

private:
    void need(std::size_t n) const {
        if (end_ - pos_ < n)
            throw std::runtime_error(what_ + ": truncated: needs " + std::to_string(n) + " more bytes at offset " +
                                     std::to_string(pos_) + ", payload ends at " + std::to_string(end_) +
                                     "; the file is incomplete: re-send or regenerate it");
    }
    std::uint64_t le(int n) {
        need(static_cast<std::size_t>(n));
        std::uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | b_[pos_ + static_cast<std::size_t>(i)];
        pos_ += static_cast<std::size_t>(n);
        return v;
    }
    const std::uint8_t* b_;
    std::size_t pos_, end_;
    std::string what_;
};

std::uint64_t checksum(const std::uint8_t* p, std::size_t n) {
    // Word-wise FNV-1a: each step (xor a word, multiply by an odd constant) is a
    // bijection of the state, so any single changed word changes the result.
    std::uint64_t h = 0xcbf29ce484222325ull;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w = 0;
        for (int k = 7; k >= 0; --k) w = (w << 8) | p[i + static_cast<std::size_t>(k)];
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

std::vector<std::uint8_t> finish(ObjectType type, std::uint64_t fp, Writer& payload) {
    Writer w;
    w.bytes("BTHE", 4);
    w.put16(kFormatVersion);
    w.put16(static_cast<std::uint16_t>(type));
    w.put64(fp);
    w.put64(payload.buf.size());
    w.put64(checksum(payload.buf.data(), payload.buf.size()));
    w.buf.insert(w.buf.end(), payload.buf.begin(), payload.buf.end());
    return std::move(w.buf);
}

// Validates the header for `type` and returns a reader over the payload.
Reader open(const std::uint8_t* bytes, std::size_t size, ObjectType type, const Params* P) {
    const std::string what = std::string(object_type_name(type)) + " file";
    const HeaderInfo h = peek_header_at(bytes, size, what);
    if (h.type != type)
        throw std::runtime_error(what + ": this file holds a " + object_type_name(h.type) + ", not a " +
                                 object_type_name(type) + ": check which file was given");
    if (size - kHeaderBytes != h.payload_bytes)
        throw std::runtime_error(what + ": payload is " + std::to_string(size - kHeaderBytes) +
                                 " bytes, the header says " + std::to_string(h.payload_bytes) +
                                 (size - kHeaderBytes < h.payload_bytes ? ": the file is truncated"
                                                                        : ": the file has trailing bytes"));
    std::uint64_t stored = 0;
    for (int k = 7; k >= 0; --k) stored = (stored << 8) | bytes[24 + static_cast<std::size_t>(k)];
    if (checksum(bytes + kHeaderBytes, h.payload_bytes) != stored)
        throw std::runtime_error(what + ": checksum mismatch: the file is corrupt (bit errors); re-send or regenerate it");
    if (P && h.fingerprint != P->fingerprint()) {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "%s: made for other CKKS parameters (fingerprint %016llx, expected %016llx): "
                      "use the files of one key set and one parameter set together",
                      what.c_str(), static_cast<unsigned long long>(h.fingerprint),
                      static_cast<unsigned long long>(P->fingerprint()));
        throw std::runtime_error(buf);
    }
    return Reader(bytes, kHeaderBytes, size, what);
}

Reader open(const std::vector<std::uint8_t>& bytes, ObjectType type, const Params* P) {
    return open(bytes.data(), bytes.size(), type, P);
}

void write_poly(Writer& w, const Poly& p) { w.words(p.data.data(), p.data.size()); }

// Reads a polynomial of `limbs` limbs; limb i has RNS index index_of(i).
template <class IndexOf>
Poly read_poly(Reader& r, const Params& P, std::size_t limbs, IndexOf index_of, const char* field) {
    Poly p(P.N(), limbs, true);
    for (std::size_t i = 0; i < limbs; ++i) r.residues(p.limb(i), P.N(), P.modulus(index_of(i)).value, field);
    return p;
}

void write_switching_key(Writer& w, const Params& P, const SwitchingKey& k) {
    w.bytes(k.seed.data(), k.seed.size());
    w.put32(static_cast<std::uint32_t>(k.max_level));
    w.put32(static_cast<std::uint32_t>(k.digits()));
    const std::size_t words = (k.max_level + 1 + P.p_count()) * P.N();
    for (std::size_t j = 0; j < k.digits(); ++j) w.words(k.mapped() ? k.mapped_b[j] : k.b[j].data.data(), words);
}

SwitchingKey read_switching_key(Reader& r, const Params& P) {
    SwitchingKey k;
    k.fingerprint = P.fingerprint();
    r.bytes(k.seed.data(), k.seed.size());
    k.max_level = r.get32();
    if (k.max_level > P.max_level())
        r.fail("switching key for levels up to " + std::to_string(k.max_level) + ", the parameters' top level is " +
               std::to_string(P.max_level()));
    const std::uint32_t digits = r.get32();
    if (digits != P.digits_at(k.max_level))
        r.fail("switching key has " + std::to_string(digits) + " digits, levels up to " + std::to_string(k.max_level) +
               " use " + std::to_string(P.digits_at(k.max_level)));
    const std::size_t limbs = k.max_level + 1 + P.p_count();
    const std::size_t ml = k.max_level;
    for (std::uint32_t j = 0; j < digits; ++j) {
        k.b.push_back(read_poly(r, P, limbs, [&P, ml](std::size_t i) { return rns_index(P, ml, i); }, "switching key"));
        Poly a;
        expand_uniform_poly(P, k.seed, j, a, k.max_level);
        k.a.push_back(std::move(a));
    }
    return k;
}

// Ciphertext body: parts, level, scale, slots, then the polynomials. With a seed, c_1 is
// not written (flag 1 + the 32-byte seed) and the reader expands it.
// In bundles (flagged) a storage byte precedes the polynomials: 0 full, 1 seeded.
void write_ct_body(Writer& w, const Ciphertext& ct, const std::optional<Seed>& seed = std::nullopt,
                   bool flagged = false) {
    w.put32(static_cast<std::uint32_t>(ct.parts.size()));
    w.put32(static_cast<std::uint32_t>(ct.level));
    w.putf64(ct.scale);
    w.put64(ct.slots);
    if (seed) {
        w.put8(1);
        w.bytes(seed->data(), seed->size());
        write_poly(w, ct.parts[0]);
        return;
    }
    if (flagged) w.put8(0);
    for (const Poly& p : ct.parts) write_poly(w, p);
}

std::size_t switching_key_bytes(const Params& P, const SwitchingKey& k) {
    return 32 + 4 + 4 + P.digits_at(k.max_level) * (k.max_level + 1 + P.p_count()) * P.N() * 8;
}

}  // namespace

const char* object_type_name(ObjectType t) {
    switch (t) {
        case ObjectType::Params: return "parameters";
        case ObjectType::SecretKey: return "secret key";
        case ObjectType::PublicKey: return "public key";
        case ObjectType::RelinKey: return "relinearization key";
        case ObjectType::GaloisKeys: return "Galois keys";
        case ObjectType::Ciphertext: return "ciphertext";
        case ObjectType::Plaintext: return "plaintext";
        case ObjectType::EncapsulationKeys: return "encapsulation keys";
        case ObjectType::Bundle: return "ciphertext bundle";
    }
    return "unknown object";
}

HeaderInfo peek_header_at(const std::uint8_t* bytes, std::size_t size, const std::string& what) {
    if (size < kHeaderBytes)
        throw std::runtime_error(what + ": " + std::to_string(size) + " bytes, shorter than the " +
                                 std::to_string(kHeaderBytes) + "-byte header: the file is truncated or not ours");
    if (std::memcmp(bytes, "BTHE", 4) != 0)
        throw std::runtime_error(what + ": no BTHE magic: this is not a BlindTuner HE file");
    Reader r(bytes, 4, kHeaderBytes, what);
    HeaderInfo h;
    h.version = r.get16();
    const std::uint16_t t = r.get16();
    if (h.version != kFormatVersion)
        throw std::runtime_error(what + ": format version " + std::to_string(h.version) + ", this program reads version " +
                                 std::to_string(kFormatVersion) + ": use the same BlindTuner version on both sides");
    if (t < 1 || t > 9) throw std::runtime_error(what + ": unknown object type " + std::to_string(t));
    h.type = static_cast<ObjectType>(t);
    h.fingerprint = r.get64();
    h.payload_bytes = r.get64();
    return h;
}

std::uint64_t payload_checksum(const std::uint8_t* payload, std::size_t n) { return checksum(payload, n); }

HeaderInfo peek_header(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    return peek_header_at(bytes.data(), bytes.size(), what);
}

// ================================================================ writers

std::vector<std::uint8_t> serialize(const Params& P) {
    const ParamsLiteral& l = P.literal();
    Writer w;
    w.put32(static_cast<std::uint32_t>(l.log_n));
    w.put32(static_cast<std::uint32_t>(l.log_q.size()));
    for (int b : l.log_q) w.put32(static_cast<std::uint32_t>(b));
    w.put32(static_cast<std::uint32_t>(l.log_p.size()));
    for (int b : l.log_p) w.put32(static_cast<std::uint32_t>(b));
    w.put32(static_cast<std::uint32_t>(l.log_scale));
    w.put8(static_cast<std::uint8_t>(l.secret));
    w.put32(static_cast<std::uint32_t>(l.hamming_weight));
    w.putf64(l.sigma);
    w.put8(l.insecure ? 1 : 0);
    w.put32(static_cast<std::uint32_t>(l.name.size()));
    w.bytes(l.name.data(), l.name.size());
    w.put64(P.fingerprint());
    return finish(ObjectType::Params, 0, w);
}

std::vector<std::uint8_t> serialize(const Params& P, const SecretKey& sk) {
    const SecureVector<std::uint8_t> b = serialize_secret(P, sk);
    return std::vector<std::uint8_t>(b.begin(), b.end());
}

SecureVector<std::uint8_t> serialize_secret(const Params& P, const SecretKey& sk) {
    check_fingerprint(P, sk.fingerprint, "the secret key");
    // Written in place into one wiped buffer of the final size (no growth, no copies).
    const std::size_t n = sk.coeffs.size();
    SecureVector<std::uint8_t> out(kHeaderBytes + n);
    auto put = [&out](std::size_t at, std::uint64_t v, int bytes) {
        for (int i = 0; i < bytes; ++i) out[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    std::memcpy(out.data(), "BTHE", 4);
    put(4, kFormatVersion, 2);
    put(6, static_cast<std::uint16_t>(ObjectType::SecretKey), 2);
    put(8, P.fingerprint(), 8);
    put(16, n, 8);
    std::memcpy(out.data() + kHeaderBytes, sk.coeffs.data(), n);
    put(24, checksum(out.data() + kHeaderBytes, n), 8);
    return out;
}

std::vector<std::uint8_t> serialize(const Params& P, const PublicKey& pk) {
    check_fingerprint(P, pk.fingerprint, "the public key");
    Writer w;
    w.bytes(pk.seed.data(), pk.seed.size());
    write_poly(w, pk.b);
    return finish(ObjectType::PublicKey, P.fingerprint(), w);
}

std::vector<std::uint8_t> serialize(const Params& P, const RelinKey& rk) {
    check_fingerprint(P, rk.key.fingerprint, "the relinearization key");
    Writer w;
    write_switching_key(w, P, rk.key);
    return finish(ObjectType::RelinKey, P.fingerprint(), w);
}

std::vector<std::uint8_t> serialize(const Params& P, const GaloisKeys& gk) {
    check_fingerprint(P, gk.fingerprint, "the Galois keys");
    Writer w;
    w.put32(static_cast<std::uint32_t>(gk.keys.size()));
    for (const auto& kv : gk.keys) {
        w.put64(kv.first);
        write_switching_key(w, P, kv.second);
    }
    return finish(ObjectType::GaloisKeys, P.fingerprint(), w);
}

std::vector<std::uint8_t> serialize(const Params& P, const Ciphertext& ct) {
    check_fingerprint(P, ct.fingerprint, "the ciphertext");
    Writer w;
    write_ct_body(w, ct);
    return finish(ObjectType::Ciphertext, P.fingerprint(), w);
}

std::vector<std::uint8_t> serialize(const Params& P, const Plaintext& pt) {
    Writer w;
    w.put32(static_cast<std::uint32_t>(pt.level));
    w.putf64(pt.scale);
    w.put64(pt.slots);
    write_poly(w, pt.poly);
    return finish(ObjectType::Plaintext, P.fingerprint(), w);
}

std::size_t serialized_size(const Params& P, const Ciphertext& ct) {
    return kHeaderBytes + 4 + 4 + 8 + 8 + ct.parts.size() * (ct.level + 1) * P.N() * 8;
}
std::size_t serialized_size(const Params& P, const RelinKey& rk) {
    return kHeaderBytes + switching_key_bytes(P, rk.key);
}
std::size_t serialized_size(const Params& P, const GaloisKeys& gk) {
    std::size_t s = kHeaderBytes + 4;
    for (const auto& kv : gk.keys) s += 8 + switching_key_bytes(P, kv.second);
    return s;
}

// ================================================================ readers

ParamsPtr deserialize_params(const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::Params, nullptr);
    ParamsLiteral l;
    l.log_n = static_cast<int>(r.get32());
    const std::uint32_t nq = r.get32();
    if (nq == 0 || nq > 200) r.fail("implausible chain length " + std::to_string(nq));
    for (std::uint32_t i = 0; i < nq; ++i) l.log_q.push_back(static_cast<int>(r.get32()));
    const std::uint32_t np = r.get32();
    if (np == 0 || np > 200) r.fail("implausible special prime count " + std::to_string(np));
    for (std::uint32_t i = 0; i < np; ++i) l.log_p.push_back(static_cast<int>(r.get32()));
    l.log_scale = static_cast<int>(r.get32());
    const std::uint8_t sd = r.get8();
    if (sd > 1) r.fail("unknown secret distribution " + std::to_string(sd));
    l.secret = static_cast<SecretDist>(sd);
    l.hamming_weight = static_cast<int>(r.get32());
    l.sigma = r.getf64();
    l.insecure = r.get8() != 0;
    const std::uint32_t name_len = r.get32();
    if (name_len > 256) r.fail("implausible name length");
    l.name.resize(name_len);
    r.bytes(&l.name[0], name_len);
    const std::uint64_t fp = r.get64();
    r.expect_end();
    ParamsPtr P;
    try {
        P = Params::create(l);
    } catch (const std::invalid_argument& e) {
        r.fail(std::string("stored parameters are invalid: ") + e.what());
    }
    if (P->fingerprint() != fp)
        r.fail("rebuilt parameters have a different fingerprint than stored: written by an incompatible version");
    return P;
}

SecretKey deserialize_secret_key(const Params& P, const std::vector<std::uint8_t>& bytes) {
    return deserialize_secret_key(P, bytes.data(), bytes.size());
}

SecretKey deserialize_secret_key(const Params& P, const std::uint8_t* bytes, std::size_t size) {
    Reader r = open(bytes, size, ObjectType::SecretKey, &P);
    const std::size_t N = P.N();
    SecureVector<std::int8_t> coeffs(N);
    r.bytes(coeffs.data(), N);
    r.expect_end();
    std::size_t weight = 0;
    for (std::int8_t c : coeffs) {
        if (c < -1 || c > 1) r.fail("a secret coefficient is not in {-1, 0, 1}: the file is corrupt");
        weight += c != 0;
    }
    if (P.secret_dist() == SecretDist::SparseTernary && weight != static_cast<std::size_t>(P.hamming_weight()))
        r.fail("sparse secret of weight " + std::to_string(weight) + ", parameters say " +
               std::to_string(P.hamming_weight()));
    return secret_key_from_coeffs(P, std::move(coeffs));
}

PublicKey deserialize_public_key(const Params& P, const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::PublicKey, &P);
    PublicKey pk;
    pk.fingerprint = P.fingerprint();
    r.bytes(pk.seed.data(), pk.seed.size());
    pk.b = read_poly(r, P, P.q_count() + P.p_count(), [](std::size_t i) { return i; }, "public key");
    r.expect_end();
    expand_uniform_poly(P, pk.seed, 0, pk.a);
    return pk;
}

RelinKey deserialize_relin_key(const Params& P, const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::RelinKey, &P);
    RelinKey rk{read_switching_key(r, P)};
    r.expect_end();
    return rk;
}

GaloisKeys deserialize_galois_keys(const Params& P, const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::GaloisKeys, &P);
    GaloisKeys gk;
    gk.fingerprint = P.fingerprint();
    const std::uint32_t count = r.get32();
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint64_t g = r.get64();
        if (g % 2 == 0 || g >= 2 * P.N()) r.fail("invalid Galois element " + std::to_string(g));
        gk.keys.emplace(g, read_switching_key(r, P));
    }
    r.expect_end();
    return gk;
}

// Level, scale and slot count of a ciphertext or plaintext, against the parameters.
void check_level_scale_slots(Reader& r, const Params& P, std::size_t level, double scale, std::size_t slots) {
    if (level > P.max_level())
        r.fail("level " + std::to_string(level) + " above the parameters' top level " + std::to_string(P.max_level()));
    if (!(scale >= 1) || !std::isfinite(scale)) r.fail("invalid scale");
    if (slots == 0 || (slots & (slots - 1)) != 0 || slots > P.max_slots())
        r.fail("invalid slot count " + std::to_string(slots));
}

namespace {

Ciphertext read_ct_body(Reader& r, const Params& P, bool allow_seeded, std::optional<Seed>* seed_out = nullptr) {
    Ciphertext ct;
    ct.fingerprint = P.fingerprint();
    const std::uint32_t parts = r.get32();
    ct.level = r.get32();
    ct.scale = r.getf64();
    ct.slots = r.get64();
    if (parts < 2 || parts > 3) r.fail("a ciphertext of " + std::to_string(parts) + " parts (expected 2 or 3)");
    check_level_scale_slots(r, P, ct.level, ct.scale, ct.slots);
    if (allow_seeded) {
        const std::uint8_t flag = r.get8();
        if (flag > 1) r.fail("unknown ciphertext storage flag " + std::to_string(flag));
        if (flag == 1) {
            if (parts != 2) r.fail("a seeded ciphertext must have 2 parts");
            Seed seed;
            r.bytes(seed.data(), seed.size());
            ct.parts.push_back(read_poly(r, P, ct.level + 1, [](std::size_t l) { return l; }, "ciphertext"));
            ct.parts.emplace_back();
            expand_seeded_c1(P, seed, ct.level, ct.parts[1]);
            if (seed_out) *seed_out = seed;
            return ct;
        }
    }
    for (std::uint32_t i = 0; i < parts; ++i)
        ct.parts.push_back(read_poly(r, P, ct.level + 1, [](std::size_t l) { return l; }, "ciphertext"));
    return ct;
}

}  // namespace

Ciphertext deserialize_ciphertext(const Params& P, const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::Ciphertext, &P);
    Ciphertext ct = read_ct_body(r, P, false);
    r.expect_end();
    return ct;
}

// ---------------------------------------------------------------- encapsulation keys

std::vector<std::uint8_t> serialize(const Params& P, const Params& encaps, const EncapsulationKeys& ek) {
    check_fingerprint(encaps, ek.to_sparse.fingerprint, "the encapsulation key s -> s'");
    check_fingerprint(P, ek.to_dense.fingerprint, "the encapsulation key s' -> s");
    Writer w;
    w.put64(encaps.fingerprint());
    write_switching_key(w, encaps, ek.to_sparse);
    write_switching_key(w, P, ek.to_dense);
    return finish(ObjectType::EncapsulationKeys, P.fingerprint(), w);
}

EncapsulationKeys deserialize_encapsulation_keys(const Params& P, const Params& encaps,
                                                 const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::EncapsulationKeys, &P);
    if (r.get64() != encaps.fingerprint())
        r.fail("made for another encapsulation ring (the bootstrapping configuration differs): regenerate the keys");
    EncapsulationKeys ek;
    ek.to_sparse = read_switching_key(r, encaps);
    ek.to_dense = read_switching_key(r, P);
    r.expect_end();
    return ek;
}

// ---------------------------------------------------------------- bundles

void CiphertextBundle::add(Ciphertext ct, std::optional<Seed> seed) {
    cts.push_back(std::move(ct));
    seeds.push_back(seed);
}

void CiphertextBundle::set(const std::string& key, const std::string& value) {
    for (auto& kv : meta)
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    meta.emplace_back(key, value);
}

bool CiphertextBundle::has(const std::string& key) const {
    for (const auto& kv : meta)
        if (kv.first == key) return true;
    return false;
}

const std::string& CiphertextBundle::get(const std::string& key) const {
    for (const auto& kv : meta)
        if (kv.first == key) return kv.second;
    throw std::runtime_error("ciphertext bundle: no field '" + key + "' (kind '" + (has("kind") ? get("kind") : "?") +
                             "'): the file was not written by this BlindTuner version, or is the wrong file");
}

std::uint64_t CiphertextBundle::get_u64(const std::string& key) const {
    const std::string& v = get(key);
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || v[0] == '-')
        throw std::runtime_error("ciphertext bundle: field '" + key + "' is '" + v + "', expected a non-negative integer");
    return x;
}

std::string CiphertextBundle::f64(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%a", v);
    return b;
}

double CiphertextBundle::get_f64(const std::string& key) const {
    const std::string& v = get(key);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) throw std::runtime_error("ciphertext bundle: field '" + key + "' is '" + v + "', expected a number");
    return x;
}

std::vector<std::uint8_t> serialize(const Params& P, const CiphertextBundle& b) {
    if (b.seeds.size() != b.cts.size()) throw std::logic_error("CiphertextBundle: seeds and ciphertexts differ in number");
    Writer w;
    w.put32(static_cast<std::uint32_t>(b.meta.size()));
    for (const auto& kv : b.meta) {
        w.put32(static_cast<std::uint32_t>(kv.first.size()));
        w.bytes(kv.first.data(), kv.first.size());
        w.put32(static_cast<std::uint32_t>(kv.second.size()));
        w.bytes(kv.second.data(), kv.second.size());
    }
    w.put32(static_cast<std::uint32_t>(b.cts.size()));
    for (std::size_t i = 0; i < b.cts.size(); ++i) {
        check_fingerprint(P, b.cts[i].fingerprint, "a ciphertext of the bundle");
        write_ct_body(w, b.cts[i], b.seeds[i], true);
    }
    return finish(ObjectType::Bundle, P.fingerprint(), w);
}

CiphertextBundle deserialize_bundle(const Params& P, const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::Bundle, &P);
    CiphertextBundle b;
    const std::uint32_t nm = r.get32();
    if (nm > 100000) r.fail("implausible metadata count " + std::to_string(nm));
    for (std::uint32_t i = 0; i < nm; ++i) {
        std::string k, v;
        const std::uint32_t kl = r.get32();
        if (kl > 4096) r.fail("implausible metadata key length");
        k.resize(kl);
        r.bytes(&k[0], kl);
        const std::uint32_t vl = r.get32();
        if (vl > (1u << 24)) r.fail("implausible metadata value length");
        v.resize(vl);
        r.bytes(&v[0], vl);
        b.meta.emplace_back(std::move(k), std::move(v));
    }
    const std::uint32_t nc = r.get32();
    for (std::uint32_t i = 0; i < nc; ++i) {
        std::optional<Seed> seed;
        b.cts.push_back(read_ct_body(r, P, true, &seed));
        b.seeds.push_back(seed);
    }
    r.expect_end();
    return b;
}

Plaintext deserialize_plaintext(const Params& P, const std::vector<std::uint8_t>& bytes) {
    Reader r = open(bytes, ObjectType::Plaintext, &P);
    Plaintext pt;
    pt.level = r.get32();
    pt.scale = r.getf64();
    pt.slots = r.get64();
    check_level_scale_slots(r, P, pt.level, pt.scale, pt.slots);
    pt.poly = read_poly(r, P, pt.level + 1, [](std::size_t l) { return l; }, "plaintext");
    r.expect_end();
    return pt;
}

}  // namespace bt::ckks
