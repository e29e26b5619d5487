// Example: hoisted rotations and an encrypted linear transform (matrix times vector by
// diagonals, baby-step giant-step, double hoisting) with BlindTuner's library.
//
// Hoisting: rotate_hoisted decomposes the ciphertext once and reuses that for every
// rotation, so k rotations cost one decomposition instead of k. A LinearTransform
// multiplies an encrypted vector by a plaintext matrix given by its nonzero diagonals
// (diagonal d holds M[i][(i + d) mod n]) and lists exactly the rotation keys it needs.
//
// Build against an installed library:
//   g++ -std=c++17 -O2 hoisted_lintrans.cpp $(pkg-config --cflags --libs blindtuner) -o hoisted_lintrans
// Run: ./hoisted_lintrans   (preset N13_QP215_T: N = 2^13, 128-bit secure)
// Exit status 0 if every result is within the expected precision, 1 if not, 2 on error.
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/lintrans.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <vector>

using namespace bt::ckks;

namespace {

// -log2 of the mean and of the max error of `got` against `want` (complex slots).
void precision(const std::vector<cplx>& got, const std::vector<cplx>& want, double& mean_bits, double& max_bits) {
    double sum = 0, mx = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double e = std::abs(got[i] - want[i]);
        sum += e;
        mx = std::max(mx, e);
    }
    mean_bits = -std::log2(sum / static_cast<double>(want.size()));
    max_bits = -std::log2(mx);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main() {
    try {
        const ParamsPtr P = preset("N13_QP215_T");
        const std::size_t n = 256;  // a 256 x 256 matrix on a 256-slot (sparse) message
        const std::size_t level = P->max_level();
        KeyGenerator kg(P);
        const SecretKey sk = kg.secret_key();
        const Encoder enc(P);
        Encryptor encryptor(P, sk);  // symmetric encryption: the client's side
        const Decryptor dec(P, sk);

        std::mt19937_64 rng(7);
        std::uniform_real_distribution<double> u(-1, 1);
        std::vector<cplx> v(n);
        for (cplx& z : v) z = cplx(u(rng), u(rng));
        const Ciphertext ct = encryptor.encrypt(enc.encode(v, level, 0, n));

        // ---- hoisted rotations: several rotations of one ciphertext, one decomposition
        const std::vector<long> steps = {1, 2, 3, 5, 8, 13, 21, 34};
        const GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps(steps, n));
        const Evaluator ev(P, nullptr, &gk);
        auto t0 = std::chrono::steady_clock::now();
        std::vector<Ciphertext> one_by_one;
        for (long s : steps) one_by_one.push_back(ev.rotate(ct, s));
        const double t_plain = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        const std::vector<Ciphertext> hoisted = ev.rotate_hoisted(ct, steps);
        const double t_hoisted = seconds_since(t0);
        bool ok = true;
        double worst_mean = 1e9;
        for (std::size_t k = 0; k < steps.size(); ++k) {
            std::vector<cplx> want(n);
            for (std::size_t i = 0; i < n; ++i) want[i] = v[(i + static_cast<std::size_t>(steps[k])) % n];
            double mean_bits, max_bits;
            precision(enc.decode(dec.decrypt(hoisted[k])), want, mean_bits, max_bits);
            worst_mean = std::min(worst_mean, mean_bits);
        }
        std::printf("%zu rotations: one by one %.1f ms, hoisted %.1f ms; hoisted precision >= %.1f bits mean\n",
                    steps.size(), 1e3 * t_plain, 1e3 * t_hoisted, worst_mean);
        ok &= worst_mean >= 20;

        // ---- a linear transform: a banded matrix given by 9 diagonals
        Diagonals M;
        for (std::size_t d : {0u, 1u, 2u, 3u, 4u, 252u, 253u, 254u, 255u})
            for (std::size_t i = 0; i < n; ++i) M[d].push_back(cplx(u(rng), u(rng)) / 4.0);
        const LinearTransform lt(enc, M, n, level);
        const std::vector<long> lt_steps = lt.rotation_steps(LTMethod::DoubleHoisted);
        std::printf("linear transform: %zu diagonals, baby steps %zu, %zu rotations (keys for steps:",
                    M.size(), lt.split().baby.size(), lt_steps.size());
        for (long s : lt_steps) std::printf(" %ld", s);
        std::printf(")\n");
        const GaloisKeys lt_keys = kg.galois_keys(sk, kg.galois_elements_for_steps(lt_steps, n));
        const Evaluator lt_ev(P, nullptr, &lt_keys);
        const Ciphertext r = lt.evaluate(lt_ev, ct, LTMethod::DoubleHoisted);
        double mean_bits, max_bits;
        precision(enc.decode(dec.decrypt(r)), lt.apply_plain(v), mean_bits, max_bits);
        std::printf("M v: level %zu -> %zu, precision %.1f bits mean, %.1f bits max\n", ct.level, r.level, mean_bits,
                    max_bits);
        ok &= mean_bits >= 18;
        std::printf(ok ? "hoisted_lintrans: all results within the expected precision\n"
                       : "hoisted_lintrans: FAILED: a result is below the expected precision\n");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hoisted_lintrans: %s\n", e.what());
        return 2;
    }
}
