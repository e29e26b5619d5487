// Bootstrapping: the secret-key stand-in and ModRaise (see bt/ckks/bootstrap.hpp).
#include "bt/ckks/bootstrap.hpp"

#include "bt/ntt.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bt::ckks {

SecretKeyBootstrapper::SecretKeyBootstrapper(ParamsPtr params, const SecretKey& sk, std::size_t output_level,
                                             std::optional<Seed> fixed_seed)
    : params_(std::move(params)),
      encoder_(params_),
      decryptor_(params_, sk),
      encryptor_(params_, sk, fixed_seed),
      out_level_(output_level) {
    if (output_level > params_->max_level())
        throw std::invalid_argument("SecretKeyBootstrapper: output level " + std::to_string(output_level) +
                                    " above the top level " + std::to_string(params_->max_level()));
}

Ciphertext SecretKeyBootstrapper::bootstrap(const Ciphertext& ct) const {
    ++calls_;
    const Plaintext pt = decryptor_.decrypt(ct);
    const auto z = encoder_.decode(pt);
    const Plaintext fresh = encoder_.encode(z, out_level_, params_->nominal_scale(out_level_), ct.slots);
    std::lock_guard<std::mutex> lk(mu_);  // the encryptor's CSPRNG is stateful
    return encryptor_.encrypt(fresh);
}

Ciphertext mod_raise(const Params& P, const Ciphertext& ct, std::size_t level) {
    check_fingerprint(P, ct.fingerprint, "the ciphertext");
    if (ct.level != 0)
        throw std::invalid_argument("mod_raise: the ciphertext is at level " + std::to_string(ct.level) +
                                    "; drop it to level 0 first (bootstrapping starts from q_0 alone)");
    if (level > P.max_level() || level == 0)
        throw std::invalid_argument("mod_raise: target level " + std::to_string(level) + " outside [1, " +
                                    std::to_string(P.max_level()) + "]");
    if (ct.size() != 2) throw std::invalid_argument("mod_raise: relinearize first");
    const std::size_t N = P.N();
    const u64 q0 = P.q(0);
    Ciphertext out;
    out.fingerprint = ct.fingerprint;
    out.level = level;
    out.scale = ct.scale;
    out.slots = ct.slots;
    for (const Poly& part : ct.parts) {
        std::vector<u64> c(part.limb(0), part.limb(0) + N);
        ntt_inverse(c.data(), P.ntt(0));
        Poly r(N, level + 1, true);
        for_each_limb(level + 1, N, [&](std::size_t i) {
            const u64 q = P.q(i);
            u64* dst = r.limb(i);
            if (i == 0) {
                std::copy(part.limb(0), part.limb(0) + N, dst);  // unchanged, already NTT
                return;
            }
            for (std::size_t k = 0; k < N; ++k) {
                const i64 v = to_centered(c[k], q0);  // |v| <= q0/2 < 2^61
                dst[k] = from_signed(v % static_cast<i64>(q), q);
            }
            ntt_forward(dst, P.ntt(i));
        });
        out.parts.push_back(std::move(r));
    }
    return out;
}

// ================================================================ EvalMod

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;
}

EvalMod::EvalMod(const EvalModConfig& cfg) : cfg_(cfg) {
    if (!(cfg.K >= 1) || cfg.double_angles < 0 || cfg.double_angles > 10 || cfg.degree < 3)
        throw std::invalid_argument("EvalMod: need K >= 1, 0 <= double angles <= 10, degree >= 3");
    const double scale = std::ldexp(1.0, -cfg.double_angles);
    auto f = [scale](double t) { return std::cos(kTwoPi * (t - 0.25) * scale); };
    const double R = cfg.K + 1;
    cos_ = chebyshev_interpolate(f, -R, R, cfg.degree, Parity::None);
    interp_err_ = chebyshev_max_error(cos_, f, 20000);
}

Ciphertext EvalMod::apply(const Evaluator& ev, const Ciphertext& t) const {
    const Params& P = *ev.params();
    if (t.level < static_cast<std::size_t>(depth()))
        throw std::invalid_argument("EvalMod: input at level " + std::to_string(t.level) + " but EvalMod needs " +
                                    std::to_string(depth()) + " levels");
    // The cosine lands at the level where the first double angle starts, at the scale of
    // that level's prime, so that each squaring keeps the scale near the primes.
    const std::size_t out_level = t.level - static_cast<std::size_t>(polyeval_depth(cos_));
    PolyEvalOptions opt;
    opt.target_scale = static_cast<double>(P.q(out_level));
    Ciphertext c = evaluate_chebyshev(ev, t, cos_, opt);
    for (int i = 0; i < cfg_.double_angles; ++i) {
        c = ev.multiply_relin_rescale(c, c);  // c²
        ev.mul_int_inplace(c, 2);             // 2c²
        ev.add_const_inplace(c, -1.0);        // 2c² - 1
    }
    c.scale *= kTwoPi;  // the slots now read sin(2πt)/(2π): no operation, only the scale
    return c;
}

double EvalMod::twin(double t) const {
    PolyEvalOptions opt;
    double c = evaluate_chebyshev_twin(cos_, t, opt);
    for (int i = 0; i < cfg_.double_angles; ++i) c = 2 * c * c - 1;
    return c / kTwoPi;
}

}  // namespace bt::ckks
