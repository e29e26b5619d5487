// Example: CKKS basics with BlindTuner's library -- parameters, keys, encryption,
// addition, multiplication, rotation, decryption, and the precision of each in bits.
//
// Build against an installed library:
//   g++ -std=c++17 -O2 ckks_basics.cpp $(pkg-config --cflags --libs blindtuner) -o ckks_basics
// Run: ./ckks_basics [PRESET]   (default N13_QP215_T: N = 2^13, 128-bit secure, 3 levels)
// Exit status 0 if every result is within the expected precision, 1 if not, 2 on bad use.
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"
#include "bt/ckks/params.hpp"

#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <vector>

using namespace bt::ckks;

namespace {

// Precision of `got` against `want` in bits: -log2 of the mean and of the max error.
struct Bits {
    double mean, max;
};
Bits precision(const std::vector<double>& got, const std::vector<double>& want) {
    double sum = 0, mx = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double e = std::fabs(got[i] - want[i]);
        sum += e;
        mx = std::max(mx, e);
    }
    return {-std::log2(sum / static_cast<double>(want.size())), -std::log2(mx)};
}

bool report(const char* what, const Bits& b, double min_mean_bits) {
    const bool ok = b.mean >= min_mean_bits;
    std::printf("  %-28s precision %5.1f bits mean, %5.1f bits max%s\n", what, b.mean, b.max,
                ok ? "" : "  << below the expected precision");
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string name = argc > 1 ? argv[1] : "N13_QP215_T";
    try {
        // Parameters: a named preset, validated (a preset above the 128-bit bound would be
        // refused unless it carries the explicit insecure opt-in).
        const ParamsPtr P = preset(name);
        std::printf("%s\n", P->summary().c_str());
        const std::size_t slots = P->max_slots(), top = P->max_level();

        // Keys, from the operating system's CSPRNG: the secret key stays here; the public,
        // relinearization and rotation keys are what a server would get.
        KeyGenerator kg(P);
        const SecretKey sk = kg.secret_key();
        const PublicKey pk = kg.public_key(sk);
        const RelinKey rk = kg.relin_key(sk);
        const GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps({1, 5}));

        // Two real vectors in [-1, 1], encoded at the top level and the nominal scale.
        std::mt19937_64 rng(2024);
        std::uniform_real_distribution<double> u(-1, 1);
        std::vector<double> x(slots), y(slots);
        for (std::size_t i = 0; i < slots; ++i) x[i] = u(rng), y[i] = u(rng);
        const Encoder enc(P);
        Encryptor encryptor(P, pk);
        const Ciphertext cx = encryptor.encrypt(enc.encode(x, top));
        const Ciphertext cy = encryptor.encrypt(enc.encode(y, top));
        std::printf("%zu slots; ciphertexts at level %zu, scale 2^%.2f\n", slots, top, std::log2(cx.scale));

        const Evaluator ev(P, &rk, &gk);
        const Decryptor dec(P, sk);
        auto decrypt = [&](const Ciphertext& c) { return decrypt_real(dec, enc, c); };
        std::vector<double> sum(slots), prod(slots), rot(slots);
        for (std::size_t i = 0; i < slots; ++i) {
            sum[i] = x[i] + y[i];
            prod[i] = x[i] * y[i];
            rot[i] = x[(i + 5) % slots];
        }
        bool ok = true;
        ok &= report("encrypt, decrypt", precision(decrypt(cx), x), 20);
        ok &= report("x + y", precision(decrypt(ev.add(cx, cy)), sum), 20);
        const Ciphertext cp = ev.multiply_relin_rescale(cx, cy);  // one level spent
        ok &= report("x * y (relin., rescale)", precision(decrypt(cp), prod), 18);
        std::printf("    product at level %zu, scale 2^%.2f\n", cp.level, std::log2(cp.scale));
        ok &= report("rotate x left by 5", precision(decrypt(ev.rotate(cx, 5)), rot), 20);
        std::printf(ok ? "ckks_basics: all results within the expected precision\n"
                       : "ckks_basics: FAILED: a result is below the expected precision\n");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ckks_basics: %s\n", e.what());
        return 2;
    }
}
