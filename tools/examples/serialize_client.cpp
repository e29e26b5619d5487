// Example: the client side of a client/server exchange through files, with BlindTuner's
// library (see serialize_server.cpp for the other side).
//
//   serialize_client encrypt DIR   makes the keys; keeps DIR/client/secret.key (mode 0600);
//                                  writes what the server needs to DIR/server/: params.bin,
//                                  relin.key, galois.key and the encrypted input x.ct
//   serialize_server DIR/server    computes x² + rot(x, 1) on the ciphertext: result.ct
//   serialize_client decrypt DIR   decrypts DIR/server/result.ct and checks it
//
// Every file is one BTHE object (magic, version, type, parameter fingerprint, size,
// checksum; see bt/ckks/serialize.hpp), written atomically; loading checks all of it.
//
// Build against an installed library:
//   g++ -std=c++17 -O2 serialize_client.cpp $(pkg-config --cflags --libs blindtuner) -o serialize_client
// Exit status 0 on success (decrypt: the result within the expected precision), 1 if the
// result is wrong, 2 on bad use or unreadable files.
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/os.hpp"

#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <vector>

using namespace bt::ckks;

namespace {

constexpr std::size_t kSlots = 1024;

// The client's data: fixed here so that `decrypt` knows what to expect.
std::vector<double> input() {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> x(kSlots);
    for (double& v : x) v = u(rng);
    return x;
}

int encrypt(const std::string& dir) {
    const std::string client = dir + "/client", server = dir + "/server";
    bt::make_dirs(client, 0700);
    bt::make_dirs(server);
    const ParamsPtr P = preset("N13_QP215_T");
    KeyGenerator kg(P);
    const SecretKey sk = kg.secret_key();
    bt::write_file_atomic(client + "/secret.key", serialize(*P, sk), 0600);
    bt::write_file_atomic(client + "/params.bin", serialize(*P));
    // The server gets the parameters, the evaluation keys its computation needs, and data.
    bt::write_file_atomic(server + "/params.bin", serialize(*P));
    bt::write_file_atomic(server + "/relin.key", serialize(*P, kg.relin_key(sk)));
    bt::write_file_atomic(server + "/galois.key", serialize(*P, kg.galois_keys(sk, kg.galois_elements_for_steps({1}, kSlots))));
    const Encoder enc(P);
    Encryptor encryptor(P, sk);
    bt::write_file_atomic(server + "/x.ct", serialize(*P, encryptor.encrypt(enc.encode(input(), P->max_level(), 0, kSlots))));
    for (const char* f : {"params.bin", "relin.key", "galois.key", "x.ct"})
        std::printf("  %s/%-12s %s\n", server.c_str(), f, bt::format_bytes(bt::file_size(server + "/" + f)).c_str());
    std::printf("serialize_client: keys and x.ct written; the secret key stays in %s\n", client.c_str());
    return 0;
}

int decrypt(const std::string& dir) {
    const std::string client = dir + "/client";
    const ParamsPtr P = deserialize_params(bt::read_file(client + "/params.bin"));
    const SecretKey sk = deserialize_secret_key(*P, bt::read_file(client + "/secret.key"));
    const Ciphertext r = deserialize_ciphertext(*P, bt::read_file(dir + "/server/result.ct"));
    const Encoder enc(P);
    const std::vector<double> got = decrypt_real(Decryptor(P, sk), enc, r);
    const std::vector<double> x = input();
    double mx = 0;
    for (std::size_t i = 0; i < kSlots; ++i) mx = std::max(mx, std::fabs(got[i] - (x[i] * x[i] + x[(i + 1) % kSlots])));
    const bool ok = got.size() == kSlots && -std::log2(mx) >= 18;
    std::printf("serialize_client: result at level %zu, max error %.1f bits against x^2 + rot(x, 1): %s\n", r.level,
                -std::log2(mx), ok ? "as expected" : "FAILED (below the expected precision)");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string cmd = argc == 3 ? argv[1] : "";
    if (cmd != "encrypt" && cmd != "decrypt") {
        std::fprintf(stderr, "usage: serialize_client encrypt DIR | serialize_client decrypt DIR\n");
        return 2;
    }
    try {
        return cmd == "encrypt" ? encrypt(argv[2]) : decrypt(argv[2]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "serialize_client: %s\n", e.what());
        return 2;
    }
}
