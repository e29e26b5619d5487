// Bootstrapping: the secret-key stand-in and ModRaise (see bt/ckks/bootstrap.hpp).
#include "bt/ckks/bootstrap.hpp"

#include "bt/ntt.hpp"

#include <algorithm>
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
    // The change of variable y = α·t + β here, with α encoded at q of the level, so the
    // working scale stays at the input's (near the primes); then p on [-1, 1].
    const ChebyshevPoly unit = cos_.on_unit_interval();
    Ciphertext y = t;
    if (affine_depth(cos_) == 1) {
        ev.mul_const_inplace(y, cos_.alpha(), static_cast<double>(P.q(y.level)));
        ev.rescale_inplace(y);
        if (cos_.beta() != 0) ev.add_const_inplace(y, cos_.beta());
    }
    PolyEvalOptions opt;
    opt.target_scale = static_cast<double>(P.q(out_level));
    Ciphertext c = evaluate_chebyshev(ev, y, unit, opt);
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

// ================================================================ the bootstrapper

CkksBootstrapper::CkksBootstrapper(ParamsPtr params, const BootstrapConfig& cfg)
    : params_(std::move(params)), cfg_(cfg), encoder_(params_), em_(cfg.evalmod) {
    const Params& P = *params_;
    slots_ = cfg.slots == 0 ? P.max_slots() : cfg.slots;
    const std::size_t L = P.max_level();
    const std::size_t need = cfg.cts_budget + static_cast<std::size_t>(em_.depth()) + cfg.stc_budget;
    if (need > L)
        throw std::invalid_argument("CkksBootstrapper: needs " + std::to_string(need) + " levels (CoeffsToSlots " +
                                    std::to_string(cfg.cts_budget) + ", EvalMod " + std::to_string(em_.depth()) +
                                    ", SlotsToCoeffs " + std::to_string(cfg.stc_budget) + "), the chain has " +
                                    std::to_string(L));
    const bool sparse = slots_ < P.max_slots();
    // CoeffsToSlots keeps the scale (plaintexts at q_l). The raised ciphertext is read at
    // the EvalMod working scale S_em (the prime of EvalMod's first level) and the
    // transform is scaled by S_em/q_0, so its slots become t = x/q_0 at scale S_em:
    // q_0 need not be as large as the EvalMod primes (a smaller q_0/Δ_0 ratio means
    // EvalMod's error is magnified less). The sparse trace's factor N/2n is undone too.
    em_in_scale_ = static_cast<double>(P.q(L - cfg.cts_budget));
    DFTOptions c;
    c.kind = DFTKind::CoeffsToSlots;
    c.slots = slots_;
    c.level_budget = cfg.cts_budget;
    c.level = L;
    c.keep_scale = true;
    c.scaling = (sparse ? static_cast<double>(2 * slots_) / static_cast<double>(P.N()) : 1.0) * em_in_scale_ /
                static_cast<double>(P.q(0));
    cts_ = std::make_unique<HomomorphicDFT>(encoder_, c);
    // Scales through EvalMod (replayed from its steps), then the reinterpretation
    // S' = S_e·Δ_0/q_0 under which the slots read m again.
    std::size_t level = L - cfg.cts_budget - static_cast<std::size_t>(polyeval_depth(em_.cosine()));
    double S = static_cast<double>(P.q(level));
    for (int i = 0; i < cfg.evalmod.double_angles; ++i, --level) S = S * S / static_cast<double>(P.q(level));
    em_out_scale_ = S * 6.283185307179586476925286766559 * P.nominal_scale(0) / static_cast<double>(P.q(0));
    // SlotsToCoeffs with plaintexts at the nominal scales: its output scale is replayed
    // too, and ρ = Δ_out / S_out folded into the transform makes the result read m at
    // exactly the nominal scale of the output level.
    double So = em_out_scale_;
    for (std::size_t t = 0; t < cfg.stc_budget; ++t, --level) So = So * P.nominal_scale(level) / static_cast<double>(P.q(level));
    out_level_ = level;
    DFTOptions d;
    d.kind = DFTKind::SlotsToCoeffs;
    d.slots = slots_;
    d.level_budget = cfg.stc_budget;
    d.level = out_level_ + cfg.stc_budget;
    d.scaling = P.nominal_scale(out_level_) / So;
    stc_ = std::make_unique<HomomorphicDFT>(encoder_, d);
}

std::vector<std::uint64_t> CkksBootstrapper::top_elements() const {
    std::vector<std::uint64_t> top = cts_->galois_elements();
    if (slots_ < params_->max_slots())
        for (long s : subring_trace_steps(params_->N(), slots_)) {
            const std::uint64_t x = encoder_.galois_element(s, params_->max_slots());
            if (std::find(top.begin(), top.end(), x) == top.end()) top.push_back(x);
        }
    return top;
}

std::vector<std::uint64_t> CkksBootstrapper::low_elements() const {
    const std::vector<std::uint64_t> top = top_elements();
    std::vector<std::uint64_t> low;
    for (std::uint64_t x : stc_->galois_elements())
        if (std::find(top.begin(), top.end(), x) == top.end()) low.push_back(x);
    return low;
}

std::vector<std::uint64_t> CkksBootstrapper::galois_elements() const {
    std::vector<std::uint64_t> g = top_elements();
    for (std::uint64_t x : low_elements()) g.push_back(x);
    return g;
}

RelinKey CkksBootstrapper::make_relin_key(KeyGenerator& kg, const SecretKey& sk) const {
    return kg.relin_key(sk, params_->max_level() - cts_->depth());
}

GaloisKeys CkksBootstrapper::make_galois_keys(KeyGenerator& kg, const SecretKey& sk) const {
    GaloisKeys gk = kg.galois_keys(sk, top_elements());
    GaloisKeys gl = kg.galois_keys(sk, low_elements(), stc_->input_level());
    for (auto& kv : gl.keys) gk.keys.emplace(kv.first, std::move(kv.second));
    return gk;
}

void CkksBootstrapper::set_keys(const RelinKey* rk, const GaloisKeys* gk) {
    ev_ = std::make_unique<Evaluator>(params_, rk, gk);
}

Ciphertext CkksBootstrapper::raise(const Ciphertext& ct_in) const {
    const Params& P = *params_;
    Ciphertext ct = ct_in;
    if (ct.slots != slots_)
        throw std::invalid_argument("bootstrap: the ciphertext has " + std::to_string(ct.slots) +
                                    " slots, this bootstrapper was built for " + std::to_string(slots_));
    if (ct.level > 0) ev_->adjust_to_inplace(ct, 0, P.nominal_scale(0));
    if (std::fabs(ct.scale / P.nominal_scale(0) - 1) > 1e-9)
        throw std::invalid_argument("bootstrap: a level-0 input must have the nominal scale " +
                                    scale_str(P.nominal_scale(0)) + ", found " + scale_str(ct.scale) +
                                    "; bootstrap one level earlier so it can be aligned");
    Ciphertext r = mod_raise(P, ct, P.max_level());
    if (slots_ < P.max_slots()) {
        r.slots = P.max_slots();
        r = subring_trace(*ev_, r, slots_);
        r.slots = slots_;
    }
    r.scale = em_in_scale_;  // with CoeffsToSlots' scaling S_em/q_0, its slots read t = x / q_0
    return r;
}

HomomorphicDFT::Split CkksBootstrapper::coeffs_to_slots(const Ciphertext& raised) const {
    return cts_->coeffs_to_slots(*ev_, raised);
}

Ciphertext CkksBootstrapper::eval_mod(const Ciphertext& t) const {
    Ciphertext r = em_.apply(*ev_, t);
    r.scale = em_out_scale_;  // = scale·Δ_0/q_0: the slots read m
    return r;
}

Ciphertext CkksBootstrapper::slots_to_coeffs(const HomomorphicDFT::Split& parts) const {
    const bool full = !parts.imag.parts.empty();
    Ciphertext out = stc_->slots_to_coeffs(*ev_, parts.real, full ? &parts.imag : nullptr);
    out.scale = params_->nominal_scale(out_level_);  // ρ in the transform makes this exact
    out.slots = slots_;
    return out;
}

Ciphertext CkksBootstrapper::bootstrap(const Ciphertext& ct) const {
    if (!ev_) throw std::logic_error("CkksBootstrapper: call set_keys first");
    ++calls_;
    const Ciphertext raised = raise(ct);
    HomomorphicDFT::Split parts = coeffs_to_slots(raised);
    parts.real = eval_mod(parts.real);
    if (!parts.imag.parts.empty()) parts.imag = eval_mod(parts.imag);
    return slots_to_coeffs(parts);
}

std::string CkksBootstrapper::describe() const {
    return "bootstrapping " + std::to_string(slots_) + " slots: CoeffsToSlots " + std::to_string(cts_->depth()) +
           " levels, EvalMod " + std::to_string(em_.depth()) + " (K=" + std::to_string(static_cast<int>(cfg_.evalmod.K)) +
           ", degree " + std::to_string(cfg_.evalmod.degree) + ", " + std::to_string(cfg_.evalmod.double_angles) +
           " double angles), SlotsToCoeffs " + std::to_string(stc_->depth()) + "; output level " +
           std::to_string(out_level_);
}

}  // namespace bt::ckks
