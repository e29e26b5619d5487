// Serialization of CKKS objects: one little-endian binary format for parameters, keys,
// ciphertexts and plaintexts.
//
// Layout (all integers little-endian):
//   offset  0  magic "BTHE"                       4 bytes
//           4  format version (currently 1)       u16
//           6  object type (ObjectType)           u16
//           8  parameters fingerprint             u64   (0 for Params objects)
//          16  payload size in bytes              u64
//          24  payload checksum                   u64   (word-wise FNV-1a; detects any
//                                                        single flipped bit and truncation)
//          32  payload
// Payloads: polynomials as limbs × N residues (u64); keys seed-compressed (the uniform
// halves a_j are regenerated from their 32-byte seed); the secret key as its N ternary
// coefficients. Loading checks the magic, version, type, fingerprint against the
// parameters given, the size against the parameters, the checksum, and every residue
// against its modulus, and throws std::runtime_error saying what was expected, what
// was found and what to do. Files are written with bt::write_file_atomic (bt/os.hpp), so a
// crash never leaves a half-written file under the final name.
#pragma once

#include "bt/ckks/ciphertext.hpp"
#include "bt/ckks/encoder.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/ckks/bootstrap.hpp"

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bt::ckks {

enum class ObjectType : std::uint16_t {
    Params = 1,
    SecretKey = 2,
    PublicKey = 3,
    RelinKey = 4,
    GaloisKeys = 5,
    Ciphertext = 6,
    Plaintext = 7,
    EncapsulationKeys = 8,
    Bundle = 9,
};

constexpr std::uint16_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = 32;

const char* object_type_name(ObjectType t);

// ---- in-memory
std::vector<std::uint8_t> serialize(const Params& P);
std::vector<std::uint8_t> serialize(const Params& P, const SecretKey& sk);
std::vector<std::uint8_t> serialize(const Params& P, const PublicKey& pk);
std::vector<std::uint8_t> serialize(const Params& P, const RelinKey& rk);
std::vector<std::uint8_t> serialize(const Params& P, const GaloisKeys& gk);
std::vector<std::uint8_t> serialize(const Params& P, const Ciphertext& ct);
std::vector<std::uint8_t> serialize(const Params& P, const Plaintext& pt);

ParamsPtr deserialize_params(const std::vector<std::uint8_t>& bytes);
SecretKey deserialize_secret_key(const Params& P, const std::vector<std::uint8_t>& bytes);
// The secret key through wiped memory only: serialize_secret writes the file image into
// one wiped buffer; the pointer overload reads one (bt::read_file_secret) without a copy.
SecureVector<std::uint8_t> serialize_secret(const Params& P, const SecretKey& sk);
SecretKey deserialize_secret_key(const Params& P, const std::uint8_t* bytes, std::size_t size);
PublicKey deserialize_public_key(const Params& P, const std::vector<std::uint8_t>& bytes);
RelinKey deserialize_relin_key(const Params& P, const std::vector<std::uint8_t>& bytes);
GaloisKeys deserialize_galois_keys(const Params& P, const std::vector<std::uint8_t>& bytes);
Ciphertext deserialize_ciphertext(const Params& P, const std::vector<std::uint8_t>& bytes);
Plaintext deserialize_plaintext(const Params& P, const std::vector<std::uint8_t>& bytes);

// Sparse-secret encapsulation keys: to_sparse lives in the encapsulation ring `encaps`
// (its own fingerprint is checked too), to_dense in the main ring.
std::vector<std::uint8_t> serialize(const Params& P, const Params& encaps, const EncapsulationKeys& ek);
EncapsulationKeys deserialize_encapsulation_keys(const Params& P, const Params& encaps,
                                                 const std::vector<std::uint8_t>& bytes);

// A bundle: text metadata (ordered key/value pairs) and a list of ciphertexts, in one
// file with one header and checksum. A ciphertext that is a fresh symmetric encryption
// can be stored with the seed of its c_1 instead of c_1 (half the size); the reader
// expands it. Used for the encrypted data sets, the head, checkpoints and predictions.
struct CiphertextBundle {
    std::vector<std::pair<std::string, std::string>> meta;
    std::vector<Ciphertext> cts;
    std::vector<std::optional<Seed>> seeds;  // per ciphertext (nullopt: stored in full)

    void add(Ciphertext ct, std::optional<Seed> seed = std::nullopt);
    void set(const std::string& key, const std::string& value);
    bool has(const std::string& key) const;
    // Throw std::runtime_error naming the file kind and the key if missing or malformed.
    const std::string& get(const std::string& key) const;
    std::uint64_t get_u64(const std::string& key) const;
    double get_f64(const std::string& key) const;  // stored exactly (hexadecimal float)
    static std::string f64(double v);              // the exact text form of a double
};
std::vector<std::uint8_t> serialize(const Params& P, const CiphertextBundle& b);
CiphertextBundle deserialize_bundle(const Params& P, const std::vector<std::uint8_t>& bytes);

// Exact serialized sizes, known before writing.
std::size_t serialized_size(const Params& P, const Ciphertext& ct);
std::size_t serialized_size(const Params& P, const RelinKey& rk);
std::size_t serialized_size(const Params& P, const GaloisKeys& gk);

// The payload checksum of the header (word-wise FNV-1a over the payload bytes). Exposed for
// tools that build or repair files on purpose (the fuzz harnesses fix it up so that mutated
// payloads reach the parsers).
std::uint64_t payload_checksum(const std::uint8_t* payload, std::size_t n);

// Reads just the header (type, fingerprint, sizes) to tell what a file holds.
struct HeaderInfo {
    ObjectType type;
    std::uint16_t version;
    std::uint64_t fingerprint;
    std::uint64_t payload_bytes;
};
HeaderInfo peek_header(const std::vector<std::uint8_t>& bytes, const std::string& what = "input");

}  // namespace bt::ckks
