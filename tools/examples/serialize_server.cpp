// Example: the server side of a client/server exchange through files, with BlindTuner's
// library (see serialize_client.cpp for the whole walk-through).
//
//   serialize_server DIR   reads DIR/params.bin, relin.key, galois.key and x.ct, computes
//                          x² + rot(x, 1) homomorphically and writes DIR/result.ct
//
// The server holds no secret key and cannot decrypt anything: it only needs the
// parameters, the evaluation keys and the ciphertexts. Loading checks each file's
// header, parameter fingerprint, size, checksum and every residue.
//
// Build against an installed library:
//   g++ -std=c++17 -O2 serialize_server.cpp $(pkg-config --cflags --libs blindtuner) -o serialize_server
// Exit status 0 on success, 2 on bad use or unreadable files.
#include "bt/ckks/evaluator.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/os.hpp"

#include <cstdio>
#include <exception>
#include <string>

using namespace bt::ckks;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: serialize_server DIR (the directory serialize_client encrypt wrote as DIR/server)\n");
        return 2;
    }
    const std::string dir = argv[1];
    try {
        const ParamsPtr P = deserialize_params(bt::read_file(dir + "/params.bin"));
        const RelinKey rk = deserialize_relin_key(*P, bt::read_file(dir + "/relin.key"));
        const GaloisKeys gk = deserialize_galois_keys(*P, bt::read_file(dir + "/galois.key"));
        const Ciphertext x = deserialize_ciphertext(*P, bt::read_file(dir + "/x.ct"));
        const Evaluator ev(P, &rk, &gk);
        // x² is one level lower than rot(x, 1): add() aligns the levels by itself.
        const Ciphertext r = ev.add(ev.multiply_relin_rescale(x, x), ev.rotate(x, 1));
        bt::write_file_atomic(dir + "/result.ct", serialize(*P, r));
        std::printf("serialize_server: x^2 + rot(x, 1) from level %zu to %zu, written to %s/result.ct\n", x.level,
                    r.level, dir.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "serialize_server: %s\n", e.what());
        return 2;
    }
}
