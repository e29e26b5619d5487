// Example: polynomial evaluation on ciphertexts with BlindTuner's library -- a function
// interpolated by a Chebyshev polynomial, its plan (depth, products), its encrypted
// evaluation, and the error against the float64 twin and against the function itself.
//
// Build against an installed library:
//   g++ -std=c++17 -O2 polyeval.cpp $(pkg-config --cflags --libs blindtuner) -o polyeval
// Run: ./polyeval   (preset N15_QP719_T: N = 2^15, 128-bit secure, 12 levels)
// Exit status 0 if the results are within the expected precision, 1 if not, 2 on error.
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/polyeval.hpp"

#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <vector>

using namespace bt::ckks;

namespace {

double max_error_bits(const std::vector<double>& got, const std::vector<double>& want) {
    double mx = 0;
    for (std::size_t i = 0; i < want.size(); ++i) mx = std::max(mx, std::fabs(got[i] - want[i]));
    return -std::log2(mx);
}

}  // namespace

int main() {
    try {
        const ParamsPtr P = preset("N15_QP719_T");
        const std::size_t slots = 4096, level = P->max_level();
        // The logistic function on [-8, 8] at degree 31: depth log2(32) = 5, plus one level
        // for the change of variable x -> x/8 (not an integer multiple).
        auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
        const ChebyshevPoly p = chebyshev_interpolate(sigmoid, -8, 8, 31);
        const PolyEvalPlan plan = plan_chebyshev(p, level);
        std::printf("sigmoid on [-8, 8], degree %d: interpolation error 2^%.1f\nplan: %s\n", p.degree(),
                    std::log2(chebyshev_max_error(p, sigmoid)), plan.summary().c_str());

        KeyGenerator kg(P);
        const SecretKey sk = kg.secret_key();
        const RelinKey rk = kg.relin_key(sk);
        const Encoder enc(P);
        Encryptor encryptor(P, sk);
        const Decryptor dec(P, sk);
        const Evaluator ev(P, &rk);

        std::mt19937_64 rng(3);
        std::uniform_real_distribution<double> u(-8, 8);
        std::vector<double> x(slots), exact(slots);
        for (std::size_t i = 0; i < slots; ++i) exact[i] = sigmoid(x[i] = u(rng));
        const Ciphertext cx = encryptor.encrypt(enc.encode(x, level, 0, slots));
        const Ciphertext cy = evaluate_chebyshev(ev, cx, p);
        const std::vector<double> got = decrypt_real(dec, enc, cy);
        const std::vector<double> twin = evaluate_chebyshev_twin(p, x);
        const double vs_twin = max_error_bits(got, twin), vs_exact = max_error_bits(got, exact);
        std::printf("encrypted p(x): level %zu -> %zu (scale 2^%.2f); max error %.1f bits against the float64 twin, "
                    "%.1f bits against the sigmoid\n",
                    cx.level, cy.level, std::log2(cy.scale), vs_twin, vs_exact);
        const bool ok = cy.level == level - static_cast<std::size_t>(plan.depth) && vs_twin >= 18 && vs_exact >= 10;
        std::printf(ok ? "polyeval: within the expected precision\n"
                       : "polyeval: FAILED: below the expected precision or at an unexpected level\n");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "polyeval: %s\n", e.what());
        return 2;
    }
}
