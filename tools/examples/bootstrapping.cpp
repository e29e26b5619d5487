// Example: CKKS bootstrapping with BlindTuner's library -- a ciphertext with no level
// left is refreshed to 15 levels by ModRaise, CoeffsToSlots, EvalMod and SlotsToCoeffs,
// with the keys exactly as a server would receive them (no secret key involved).
//
// It runs on N12_test_boot, the secure preset N16_QP1735_T_enc's chain on a ring of
// N = 2^12: seconds instead of a minute and 10 GB, but INSECURE (far below 128-bit
// security), so it needs the explicit opt-in --allow-insecure. The real thing is the
// same code with preset("N16_QP1735_T_enc").
//
// Build against an installed library:
//   g++ -std=c++17 -O2 bootstrapping.cpp $(pkg-config --cflags --libs blindtuner) -o bootstrapping
// Run: ./bootstrapping --allow-insecure
// Exit status 0 if the result is within the expected precision, 1 if not, 2 on bad use.
#include "bt/ckks/bootstrap.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <vector>

using namespace bt::ckks;

int main(int argc, char** argv) {
    if (argc != 2 || std::strcmp(argv[1], "--allow-insecure") != 0) {
        std::fprintf(stderr,
                     "bootstrapping: this example runs on the INSECURE test ring N12_test_boot (N = 2^12, far below "
                     "128-bit security); pass --allow-insecure to run it anyway\n");
        return 2;
    }
    try {
        ParamsLiteral lit = preset_literal("N12_test_boot");  // carries the insecure opt-in itself
        const ParamsPtr P = Params::create(lit);
        const std::size_t slots = P->max_slots();

        // The bootstrapper and exactly the keys it needs (what the client sends a server):
        // relinearization, the rotations of the homomorphic DFT, and the two keys of the
        // sparse-secret encapsulation.
        CkksBootstrapper bs(P, recommended_bootstrap_config(slots));
        std::printf("%s\n", bs.describe().c_str());
        KeyGenerator kg(P);
        const SecretKey sk = kg.secret_key();
        auto t0 = std::chrono::steady_clock::now();
        const RelinKey rk = bs.make_relin_key(kg, sk);
        const GaloisKeys gk = bs.make_galois_keys(kg, sk);
        const EncapsulationKeys ek = bs.make_encapsulation_keys(kg, sk);
        bs.set_keys(&rk, &gk, &ek);
        std::printf("keys: %zu rotation keys, %.1f s\n", gk.keys.size(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

        // A message in [-1, 1] encrypted at level 0: nothing can be multiplied any more.
        std::mt19937_64 rng(5);
        std::uniform_real_distribution<double> u(-1, 1);
        std::vector<cplx> z(slots);
        for (cplx& v : z) v = cplx(u(rng), u(rng));
        const Encoder enc(P);
        Encryptor encryptor(P, sk);
        const Ciphertext ct = encryptor.encrypt(enc.encode(z, 0, 0, slots));

        t0 = std::chrono::steady_clock::now();
        const Ciphertext fresh = bs.bootstrap(ct);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        const Decryptor dec(P, sk);
        const std::vector<cplx> got = enc.decode(dec.decrypt(fresh));
        double sum = 0, mx = 0;
        for (std::size_t i = 0; i < slots; ++i) {
            const double e = std::abs(got[i] - z[i]);
            sum += e;
            mx = std::max(mx, e);
        }
        const double mean_bits = -std::log2(sum / static_cast<double>(slots)), max_bits = -std::log2(mx);
        std::printf("bootstrapped %zu slots in %.2f s: level %zu -> %zu, precision %.1f bits mean, %.1f bits max\n",
                    slots, secs, ct.level, fresh.level, mean_bits, max_bits);
        const bool ok = fresh.level == bs.output_level() && mean_bits >= 18 && max_bits >= 14;
        std::printf(ok ? "bootstrapping: within the expected precision\n"
                       : "bootstrapping: FAILED: below the expected precision\n");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bootstrapping: %s\n", e.what());
        return 2;
    }
}
