// Bootstrapping: the secret-key stand-in and ModRaise (see bt/ckks/bootstrap.hpp).
#include "bt/ckks/bootstrap.hpp"

#include "bt/detmath.hpp"
#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"
#include "bt/threadpool.hpp"

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

// ================================================================ sparse-secret encapsulation

ParamsPtr encapsulation_params(const Params& main, std::size_t h) {
    ParamsLiteral lit;
    lit.log_n = main.log_n();
    lit.log_q = {bit_length(main.q(0))};
    lit.log_p = {bit_length(main.p()[0])};
    lit.q_primes = {main.q(0)};
    lit.p_primes = {main.p()[0]};
    lit.log_scale = std::min(main.literal().log_scale, lit.log_q[0]);
    lit.secret = SecretDist::SparseTernary;
    lit.hamming_weight = static_cast<int>(h);
    lit.sigma = main.sigma();
    // Secure for N = 2^16, h >= 32 (see the header); the test rings inherit the main
    // ring's explicit insecure opt-in.
    lit.insecure = !main.secure();
    lit.name = (main.name().empty() ? std::string("custom") : main.name()) + "_encaps_H" + std::to_string(h);
    return Params::create(lit);
}

EncapsulationKeys make_encapsulation_keys(KeyGenerator& kg, const SecretKey& sk, const ParamsPtr& encaps,
                                          const SecureVector<std::int8_t>& ephemeral) {
    const Params& E = *encaps;
    if (ephemeral.size() != E.N())
        throw std::invalid_argument("make_encapsulation_keys: the ephemeral secret has " +
                                    std::to_string(ephemeral.size()) + " coefficients, expected N = " +
                                    std::to_string(E.N()));
    EncapsulationKeys ek;
    // s -> s' over {q_0, p'}: b = -a·s' + e + p'·s, an RLWE sample under s' (small modulus).
    KeyGenerator kg_small = kg.derive(encaps);
    const SecretKey s_small = secret_key_from_coeffs(E, SecureVector<std::int8_t>(sk.coeffs.begin(), sk.coeffs.end()));
    const SecretKey eph_small = secret_key_from_coeffs(E, SecureVector<std::int8_t>(ephemeral.begin(), ephemeral.end()));
    ek.to_sparse = kg_small.switching_key(eph_small, s_small.ntt.data());
    // s' -> s over the whole chain: an RLWE sample under the dense s, like a rotation key.
    const SecretKey eph_main =
        secret_key_from_coeffs(*kg.params(), SecureVector<std::int8_t>(ephemeral.begin(), ephemeral.end()));
    ek.to_dense = kg.switching_key(sk, eph_main.ntt.data());
    return ek;  // s_small, eph_small, eph_main: wiped by their destructors
}

Ciphertext switch_to_sparse(const Params& main, const ParamsPtr& encaps, const Ciphertext& ct,
                            const SwitchingKey& to_sparse) {
    check_fingerprint(main, ct.fingerprint, "the ciphertext");
    check_fingerprint(*encaps, to_sparse.fingerprint, "the s -> s' key");
    if (ct.level != 0 || ct.size() != 2)
        throw std::invalid_argument("switch_to_sparse: expected a relinearized level-0 ciphertext, got level " +
                                    std::to_string(ct.level) + " with " + std::to_string(ct.size()) + " parts");
    if (encaps->q(0) != main.q(0)) throw std::logic_error("switch_to_sparse: the encapsulation ring has another q_0");
    const Params& E = *encaps;
    Poly u0, u1;
    inner_product(E, decompose(E, ct.parts[1], 0), to_sparse, u0, u1);  // over {q_0, p'}
    mod_down(E, u0, 0);
    mod_down(E, u1, 0);
    Ciphertext out = ct;  // same residues mod q_0, same fingerprint (main ring), level 0
    const Modulus& m = main.modulus(0);
    eltwise_add_mod(out.parts[0].limb(0), out.parts[0].limb(0), u0.limb(0), main.N(), m);
    out.parts[1] = std::move(u1);
    return out;
}

void switch_to_dense_inplace(const Evaluator& ev, Ciphertext& ct, const SwitchingKey& to_dense) {
    const Params& P = *ev.params();
    check_fingerprint(P, ct.fingerprint, "the ciphertext");
    check_fingerprint(P, to_dense.fingerprint, "the s' -> s key");
    if (ct.size() != 2) throw std::invalid_argument("switch_to_dense: relinearize first");
    Poly u0, u1;
    ev.switch_key(ct.parts[1], ct.level, to_dense, u0, u1);
    for (std::size_t i = 0; i <= ct.level; ++i)
        eltwise_add_mod(ct.parts[0].limb(i), ct.parts[0].limb(i), u0.limb(i), P.N(), P.modulus(i));
    ct.parts[1] = std::move(u1);
}

// ================================================================ EvalMod

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;
}

EvalMod::EvalMod(const EvalModConfig& cfg) : cfg_(cfg) {
    if (!(cfg.K >= 1) || cfg.double_angles < 0 || cfg.double_angles > 10 || cfg.degree < 3)
        throw std::invalid_argument("EvalMod: need K >= 1, 0 <= double angles <= 10, degree >= 3");
    const double scale = std::ldexp(1.0, -cfg.double_angles);
    // det::cos_2pi, not std::cos: the polynomial must be the same on every target.
    auto f = [scale](double t) { return det::cos_2pi((t - 0.25) * scale); };
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
    const std::size_t out_level = t.level - static_cast<std::size_t>(poly_depth());
    // The change of variable y = α·t + β here, with α encoded at q of the level, so the
    // working scale stays at the input's (near the primes); then p on [-1, 1].
    const ChebyshevPoly unit = cos_.on_unit_interval();
    Ciphertext y;  // the affine change of variable, when it is not folded into the input
    if (!cfg_.unit_input && affine_depth(cos_) == 1) {
        y = t;
        ev.mul_const_inplace(y, cos_.alpha(), static_cast<double>(P.q(y.level)));
        ev.rescale_inplace(y);
        if (cos_.beta() != 0) ev.add_const_inplace(y, cos_.beta());
    }
    PolyEvalOptions opt;
    opt.target_scale = static_cast<double>(P.q(out_level));
    Ciphertext c = evaluate_chebyshev(ev, y.parts.empty() ? t : y, unit, opt);
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

namespace {
EvalModConfig unit_input(EvalModConfig c) {
    c.unit_input = true;
    return c;
}
}  // namespace

BootstrapConfig recommended_bootstrap_config(std::size_t slots) {
    BootstrapConfig c;
    c.slots = slots;
    c.cts_budget = 3;
    c.stc_budget = 3;
    c.evalmod.K = 16;  // h = 32: |I| <= 16 always
    c.evalmod.degree = 63;
    c.evalmod.double_angles = 2;
    c.evalmod.unit_input = true;
    c.ephemeral_weight = 32;
    c.dft_method = LTMethod::DoubleHoistedFewKeys;
    // Full packing at N = 2^16: the transforms' precomputed plaintexts would take ~4.7 GB
    // (316 of 12–18 MB); compact storage keeps ~1 MB each and rebuilds them (~2 s).
    c.compact_cts = c.compact_stc = slots == 0 || slots >= 32768;
    return c;
}

BootstrapConfig speed_bootstrap_config(std::size_t slots) {
    BootstrapConfig c = recommended_bootstrap_config(slots);
    c.dft_method = LTMethod::DoubleHoisted;
    c.compact_cts = c.compact_stc = false;
    return c;
}

CkksBootstrapper::CkksBootstrapper(ParamsPtr params, const BootstrapConfig& cfg)
    : params_(std::move(params)), cfg_(cfg), encoder_(params_), em_(unit_input(cfg.evalmod)) {
    cfg_.evalmod.unit_input = true;
    const Params& P = *params_;
    slots_ = cfg.slots == 0 ? P.max_slots() : cfg.slots;
    // The bound on |I| that ModRaise guarantees: (h+1)/2 for the secret ModRaise sees
    // (the ephemeral one with encapsulation), see the encapsulation comment in the header.
    std::size_t h = 0;
    if (cfg.ephemeral_weight > 0) {
        h = cfg.ephemeral_weight;
        enc_params_ = encapsulation_params(P, h);
    } else if (P.secret_dist() == SecretDist::SparseTernary) {
        h = static_cast<std::size_t>(P.hamming_weight());
    } else {
        throw std::invalid_argument(
            "CkksBootstrapper: the main secret is dense (uniform ternary), so ModRaise's |I| is unbounded in "
            "practice (maxima near 5·sqrt(N/18)); enable sparse-secret encapsulation "
            "(BootstrapConfig::ephemeral_weight = 32, or use recommended_bootstrap_config)");
    }
    if (static_cast<double>((h + 1) / 2) > cfg.evalmod.K)
        throw std::invalid_argument("CkksBootstrapper: a secret of Hamming weight " + std::to_string(h) +
                                    " gives |I| up to " + std::to_string((h + 1) / 2) + " but EvalMod's K is " +
                                    std::to_string(cfg.evalmod.K) + ": raise K to at least " +
                                    std::to_string((h + 1) / 2) + " (failure probability 0)");
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
    c.method = cfg.dft_method;
    c.compact = cfg.compact_cts;
    // EvalMod's change of variable u = t/(K+1) is folded in as well (saves its level).
    c.scaling = (sparse ? static_cast<double>(2 * slots_) / static_cast<double>(P.N()) : 1.0) * em_in_scale_ /
                static_cast<double>(P.q(0)) / (cfg.evalmod.K + 1);
    cts_ = std::make_unique<HomomorphicDFT>(encoder_, c);
    // Scales through EvalMod (replayed from its steps), then the reinterpretation
    // S' = S_e·Δ_0/q_0 under which the slots read m again.
    std::size_t level = L - cfg.cts_budget - static_cast<std::size_t>(em_.poly_depth());
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
    d.method = cfg.dft_method;
    d.compact = cfg.compact_stc;
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

std::size_t CkksBootstrapper::key_bytes() const {
    const Params& P = *params_;
    std::size_t b = switching_key_bytes(P, P.max_level() - cts_->depth());  // relinearization (EvalMod)
    b += top_elements().size() * switching_key_bytes(P, P.max_level());
    b += low_elements().size() * switching_key_bytes(P, stc_->input_level());
    if (enc_params_) b += switching_key_bytes(*enc_params_, 0) + switching_key_bytes(P, P.max_level());
    return b;
}

std::size_t CkksBootstrapper::galois_key_bytes(bool seeded) const {
    const Params& P = *params_;
    const std::vector<std::uint64_t> top = top_elements(), sd = seeded ? seeded_elements() : std::vector<std::uint64_t>{};
    std::size_t b = 0;
    for (std::uint64_t g : galois_elements()) {
        const bool is_top = std::find(top.begin(), top.end(), g) != top.end();
        const std::size_t k = switching_key_bytes(P, is_top ? P.max_level() : stc_->input_level());
        b += std::find(sd.begin(), sd.end(), g) != sd.end() ? k / 2 : k;
    }
    return b;
}

std::size_t CkksBootstrapper::top_key_switches() const { return cts_->plan().rotations() + 1; }

std::size_t CkksBootstrapper::memory_bytes() const { return cts_->memory_bytes() + stc_->memory_bytes(); }

void CkksBootstrapper::precompute_transforms() {
    cts_->precompute();
    stc_->precompute();
    cfg_.compact_cts = cfg_.compact_stc = false;
}

RelinKey CkksBootstrapper::make_relin_key(KeyGenerator& kg, const SecretKey& sk) const {
    return kg.relin_key(sk, params_->max_level() - cts_->depth());
}

std::vector<std::pair<std::uint64_t, std::size_t>> CkksBootstrapper::galois_key_levels() const {
    std::vector<std::pair<std::uint64_t, std::size_t>> out;
    for (std::uint64_t g : top_elements()) out.emplace_back(g, params_->max_level());
    for (std::uint64_t g : low_elements()) out.emplace_back(g, stc_->input_level());
    return out;
}

GaloisKeys CkksBootstrapper::make_galois_keys(KeyGenerator& kg, const SecretKey& sk,
                                              const std::function<void()>& on_key, bool seeded,
                                              bool all_seeded, const GaloisKeys* have) const {
    const std::vector<std::uint64_t> sd = seeded_elements();
    auto seed_this = [&](std::uint64_t g) {
        return all_seeded || (seeded && std::find(sd.begin(), sd.end(), g) != sd.end());
    };
    // One key at a time, in the order (and so from the randomness) of one batch call.
    GaloisKeys gk;
    gk.fingerprint = params_->fingerprint();
    for (const auto& [elements, level] : {std::make_pair(top_elements(), SIZE_MAX),
                                          std::make_pair(low_elements(), stc_->input_level())})
        for (std::uint64_t g : elements) {
            const std::size_t need = level == SIZE_MAX ? params_->max_level() : level;
            if (have && have->has(g) && have->keys.at(g).max_level >= need) continue;
            GaloisKeys one = kg.galois_keys(sk, {g}, level, on_key, seed_this(g));
            gk.keys.emplace(g, std::move(one.keys.at(g)));
        }
    return gk;
}

std::vector<std::uint64_t> CkksBootstrapper::seeded_elements() const {
    std::vector<std::uint64_t> rep = cts_->repeated_elements();
    for (std::uint64_t g : stc_->repeated_elements()) rep.push_back(g);
    std::vector<std::uint64_t> out;
    for (std::uint64_t g : galois_elements())
        if (std::find(rep.begin(), rep.end(), g) == rep.end()) out.push_back(g);
    return out;
}

EncapsulationKeys CkksBootstrapper::make_encapsulation_keys(KeyGenerator& kg, const SecretKey& sk) const {
    if (!enc_params_)
        throw std::invalid_argument("make_encapsulation_keys: this bootstrapper has no encapsulation "
                                    "(BootstrapConfig::ephemeral_weight = 0)");
    // s' exists only inside this scope, in wiped memory.
    const SecureVector<std::int8_t> ephemeral = kg.sparse_ternary_coeffs(cfg_.ephemeral_weight);
    return bt::ckks::make_encapsulation_keys(kg, sk, enc_params_, ephemeral);
}

void CkksBootstrapper::set_keys(const RelinKey* rk, const GaloisKeys* gk, const EncapsulationKeys* ek) {
    if (enc_params_ && !ek)
        throw std::invalid_argument("CkksBootstrapper::set_keys: the configuration uses sparse-secret encapsulation; "
                                    "pass the keys from make_encapsulation_keys");
    if (ek) {
        check_fingerprint(*enc_params_, ek->to_sparse.fingerprint, "the s -> s' encapsulation key");
        check_fingerprint(*params_, ek->to_dense.fingerprint, "the s' -> s encapsulation key");
        if (ek->to_dense.max_level < params_->max_level())
            throw std::invalid_argument("CkksBootstrapper::set_keys: the s' -> s key serves levels up to " +
                                        std::to_string(ek->to_dense.max_level) + "; it is used at the top level " +
                                        std::to_string(params_->max_level()));
    }
    ev_ = std::make_unique<Evaluator>(params_, rk, gk);
    ek_ = ek;
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
    Ciphertext r;
    if (enc_params_) {  // s -> s' (mod q_0), ModRaise, s' -> s (top level)
        r = mod_raise(P, switch_to_sparse(P, enc_params_, ct, ek_->to_sparse), P.max_level());
        switch_to_dense_inplace(*ev_, r, ek_->to_dense);
    } else {
        r = mod_raise(P, ct, P.max_level());
    }
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

void CkksBootstrapper::eval_mod(HomomorphicDFT::Split& parts) const {
    if (parts.imag.parts.empty()) {
        parts.real = eval_mod(parts.real);
        return;
    }
    Ciphertext* both[2] = {&parts.real, &parts.imag};
    bt::parallel_for(2, [&](std::size_t i, unsigned) { *both[i] = eval_mod(*both[i]); });
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
    eval_mod(parts);
    return slots_to_coeffs(parts);
}

std::string CkksBootstrapper::describe() const {
    const std::string enc = enc_params_ ? "sparse-secret encapsulation h=" + std::to_string(cfg_.ephemeral_weight) + ", "
                                        : "no encapsulation, ";
    return "bootstrapping " + std::to_string(slots_) + " slots (" + enc + "|I| <= K deterministic): CoeffsToSlots " +
           std::to_string(cts_->depth()) +
           " levels, EvalMod " + std::to_string(em_.depth()) + " (K=" + std::to_string(static_cast<int>(cfg_.evalmod.K)) +
           ", degree " + std::to_string(cfg_.evalmod.degree) + ", " + std::to_string(cfg_.evalmod.double_angles) +
           " double angles), SlotsToCoeffs " + std::to_string(stc_->depth()) + "; output level " +
           std::to_string(out_level_);
}

}  // namespace bt::ckks
