// CKKS parameters: validation, prime selection, nominal scales, presets.
#include "bt/ckks/params.hpp"

#include "bt/primes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace bt::ckks {

int he_standard_max_log_qp(int log_n) {
    switch (log_n) {
        case 12: return 109;
        case 13: return 218;
        case 14: return 438;
        case 15: return 881;
        case 16: return 1747;
        case 17: return 3523;
        default: return 0;
    }
}

int sparse_secret_max_log_qp(int log_n, int hamming_weight) {
    if (log_n == 16 && hamming_weight >= 32) return 121;
    return 0;
}

namespace {

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("CKKS parameters: " + msg); }

bool used(const std::vector<u64>& v, u64 x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The unused NTT prime (≡ 1 mod 2N) below `limit` nearest to `target`.
u64 nearest_ntt_prime(double target, std::size_t N, const std::vector<u64>& exclude, u64 limit) {
    const u64 m = 2 * static_cast<u64>(N);
    const u64 t = static_cast<u64>(target);
    const u64 base = (t / m) * m + 1;  // candidates base + k·m
    for (u64 k = 0; k < (u64{1} << 22); ++k) {
        // Try the two candidates at distance about k·m, nearer one first.
        const u64 up = base + k * m, down = base >= (k + 1) * m ? base - (k + 1) * m : 0;
        const u64 du = up > t ? up - t : t - up, dd = down ? t - down : ~u64{0};
        const u64 first = du <= dd ? up : down, second = du <= dd ? down : up;
        for (u64 c : {first, second})
            if (c > 2 && c < limit && !used(exclude, c) && is_prime(c)) return c;
    }
    bad("no NTT prime near 2^" + std::to_string(std::log2(target)));
}

// The largest unused NTT prime of exactly `bits` bits.
u64 largest_ntt_prime(int bits, std::size_t N, const std::vector<u64>& exclude) {
    return generate_ntt_primes(bits, 1, N, exclude)[0];
}

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void validate_literal(const ParamsLiteral& lit) {
    if (lit.log_n < 4 || lit.log_n > 17)
        bad("log N = " + std::to_string(lit.log_n) + " outside [4, 17]");
    if (lit.log_q.empty()) bad("the modulus chain log_q is empty; give at least q_0");
    if (lit.log_p.empty()) bad("no special primes (log_p); hybrid key switching needs at least one");
    for (int b : lit.log_q)
        if (b < 20 || b > 61) bad("a chain prime of " + std::to_string(b) + " bits: expected 20 … 61 bits");
    for (int b : lit.log_p)
        if (b < 20 || b > 61) bad("a special prime of " + std::to_string(b) + " bits: expected 20 … 61 bits");
    if (lit.log_scale < 10 || lit.log_scale > 60)
        bad("log_scale = " + std::to_string(lit.log_scale) + " outside [10, 60]");
    if (!(lit.sigma > 0.5 && lit.sigma < 100)) bad("sigma must be in (0.5, 100)");
    // The HomomorphicEncryption.org table assumes an error of standard deviation about
    // 3.19 (8/sqrt(2π)); a narrower error is not covered by its 128-bit bounds.
    if (!lit.insecure && lit.sigma < 3.19)
        bad("sigma " + std::to_string(lit.sigma) + " is below the 3.19 the HomomorphicEncryption.org security table "
            "assumes; use 3.2 (or mark the parameters insecure, for tests)");
    const std::size_t N = std::size_t{1} << lit.log_n;
    if (lit.secret == SecretDist::SparseTernary &&
        (lit.hamming_weight < 1 || static_cast<std::size_t>(lit.hamming_weight) > N))
        bad("sparse secret of Hamming weight " + std::to_string(lit.hamming_weight) + ": expected 1 … N = " +
            std::to_string(N));
    auto check_explicit = [&](const std::vector<u64>& primes, const std::vector<int>& bits, const char* what) {
        if (primes.empty()) return;
        if (primes.size() != bits.size())
            bad(std::string("explicit ") + what + " primes: " + std::to_string(primes.size()) + " given for " +
                std::to_string(bits.size()) + " bit sizes; give one per entry or none");
        for (std::size_t i = 0; i < primes.size(); ++i)
            if (bit_length(primes[i]) != bits[i] || primes[i] % (2 * N) != 1 || !is_prime(primes[i]))
                bad(std::string("explicit ") + what + " prime " + std::to_string(primes[i]) + " is not an NTT prime (≡ 1 mod 2N = " +
                    std::to_string(2 * N) + ") of " + std::to_string(bits[i]) + " bits");
    };
    check_explicit(lit.q_primes, lit.log_q, "chain");
    check_explicit(lit.p_primes, lit.log_p, "special");
}

}  // namespace

double Params::default_scale() const { return std::ldexp(1.0, lit_.log_scale); }

std::shared_ptr<const Params> Params::create(const ParamsLiteral& lit) {
    validate_literal(lit);
    std::shared_ptr<Params> P(new Params());
    P->lit_ = lit;
    const std::size_t N = std::size_t{1} << lit.log_n;
    P->n_ = N;
    const std::size_t L = lit.log_q.size() - 1;

    // Scale levels 1 … c: the contiguous block of log_scale-bit primes from level 1.
    std::size_t c = 0;
    while (c + 1 <= L && lit.log_q[c + 1] == lit.log_scale) ++c;
    P->top_scale_level_ = c;
    std::vector<u64> q(L + 1, 0), chosen(lit.q_primes);
    chosen.insert(chosen.end(), lit.p_primes.begin(), lit.p_primes.end());
    // The top nominal scale sits 2^-10 below 2^log_scale so that the primes nearest to
    // every Δ_l keep exactly log_scale bits (below 2^50 they stay IFMA-capable).
    std::vector<double> scale(L + 1, std::ldexp(1.0, lit.log_scale));
    if (c >= 1) scale[c] = std::ldexp(1.0 - 1.0 / 1024, lit.log_scale);
    const bool fixed_q = !lit.q_primes.empty();
    for (std::size_t l = c; l >= 1; --l) {  // top-down, each prime nearest the current scale
        q[l] = fixed_q ? lit.q_primes[l] : nearest_ntt_prime(scale[l], N, chosen, u64{1} << lit.log_scale);
        if (!fixed_q) chosen.push_back(q[l]);
        scale[l - 1] = scale[l] * (scale[l] / static_cast<double>(q[l]));
    }
    for (std::size_t l = 0; l <= L; ++l) {
        if (l >= 1 && l <= c) continue;
        q[l] = fixed_q ? lit.q_primes[l] : largest_ntt_prime(lit.log_q[l], N, chosen);
        if (!fixed_q) chosen.push_back(q[l]);
    }
    std::vector<u64> p;
    for (std::size_t i = 0; i < lit.log_p.size(); ++i) {
        p.push_back(lit.p_primes.empty() ? largest_ntt_prime(lit.log_p[i], N, chosen) : lit.p_primes[i]);
        if (lit.p_primes.empty()) chosen.push_back(p.back());
    }
    {
        std::vector<u64> all(q);
        all.insert(all.end(), p.begin(), p.end());
        std::sort(all.begin(), all.end());
        if (std::adjacent_find(all.begin(), all.end()) != all.end())
            bad("the explicit primes repeat a prime; every chain and special prime must be distinct");
    }
    P->q_ = q;
    P->p_ = p;
    P->nominal_scale_ = scale;
    for (u64 x : q) P->log_q_ += std::log2(static_cast<double>(x));
    for (u64 x : p) P->log_p_ += std::log2(static_cast<double>(x));

    // Key-switching digits (Han–Ki hybrid key switching, CT-RSA 2020). The key-switching
    // error is Σ_j d_j·e_j / P plus the rounding of the division by P, with d_j < (limbs of
    // digit j + 1)·Q_j after ModUp: a digit with Q_j well below P adds an error of the
    // order of the rounding's, so a digit may take more than |P| chain primes while Q_j
    // stays 2^kWideDigitMargin below P (the secure preset's 40-bit primes: 7 per digit under
    // 5 × 61 bits instead of 5; its classic split's widest digit, 5 × 60 bits, is itself
    // 2^5 below P and stays as it is). Measured: a test ring (q_0 60 bits, P 3 × 61) whose
    // first digit widened to 2^3 below P lost 4.7 bits of bootstrapping precision; with
    // the margin it keeps the classic split. Fewer digits mean fewer NTTs in ModUp, a
    // shorter inner product and smaller keys. Greedy from q_0 up, so the digits of a
    // level are a prefix of the top level's (keys limited to a level agree).
    {
        constexpr double kWideDigitMargin = 8;
        const std::size_t alpha = p.size();
        std::size_t i = 0;
        while (i < q.size()) {
            std::size_t e = i;
            double bits = 0;
            while (e < q.size() && (e - i < alpha || (lit.digits_by_bits &&
                                                      bits + std::log2(static_cast<double>(q[e])) <= P->log_p_ - kWideDigitMargin))) {
                bits += std::log2(static_cast<double>(q[e]));
                ++e;
            }
            P->digit_start_.push_back(i);
            P->digit_of_.insert(P->digit_of_.end(), e - i, P->digit_start_.size() - 1);
            i = e;
        }
    }

    // Security: the HE standard table covers uniform ternary (and Gaussian) secrets.
    const int bound = he_standard_max_log_qp(lit.log_n);
    std::string why;
    if (bound == 0) {
        why = "N = 2^" + std::to_string(lit.log_n) + " is below the HomomorphicEncryption.org table (2^12 … 2^17)";
    } else if (P->log_qp() > bound) {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "log2(QP) = %.1f exceeds the HomomorphicEncryption.org 128-bit bound %d for N = 2^%d "
                      "by %.1f bits: remove chain or special primes, or use a larger N",
                      P->log_qp(), bound, lit.log_n, P->log_qp() - bound);
        why = buf;
    } else if (lit.secret == SecretDist::SparseTernary &&
               P->log_qp() > sparse_secret_max_log_qp(lit.log_n, lit.hamming_weight)) {
        why = "a sparse secret (h = " + std::to_string(lit.hamming_weight) +
              ") is outside what the HomomorphicEncryption.org table covers";
        if (sparse_secret_max_log_qp(lit.log_n, lit.hamming_weight) > 0)
            why += " above log2(QP) = " + std::to_string(sparse_secret_max_log_qp(lit.log_n, lit.hamming_weight)) +
                   " (the sparse-secret encapsulation bound)";
    }
    P->secure_ = why.empty();
    if (!P->secure_) {
        if (!lit.insecure)
            bad(why + ". (Tests may opt in to insecure parameters with ParamsLiteral::insecure = true.)");
        // Once per distinct reason per process: tests create the same test ring often.
        static std::mutex mu;
        static std::set<std::string> warned;
        std::lock_guard<std::mutex> lk(mu);
        if (warned.insert(why).second)
            std::fprintf(stderr, "WARNING: insecure CKKS parameters%s%s: %s. For tests only.\n",
                         lit.name.empty() ? "" : " ", lit.name.c_str(), why.c_str());
    }

    for (u64 x : q) P->ntt_.emplace_back(N, x);
    for (u64 x : p) P->ntt_.emplace_back(N, x);
    for (const NTTTables& t : P->ntt_) P->ntt_ptr_.push_back(&t);
    for (std::size_t l = 0; l <= L; ++l)
        P->basis_q_.emplace_back(std::vector<u64>(q.begin(), q.begin() + static_cast<long>(l + 1)));
    P->basis_p_ = RNSBasis(p);

    std::uint64_t h = 0xcbf29ce484222325ull;
    const std::int64_t head[5] = {lit.log_n, lit.log_scale, static_cast<std::int64_t>(lit.secret),
                                  lit.hamming_weight, static_cast<std::int64_t>(lit.sigma * 1000)};
    h = fnv1a(h, head, sizeof head);
    h = fnv1a(h, q.data(), q.size() * sizeof(u64));
    h = fnv1a(h, p.data(), p.size() * sizeof(u64));
    // Keys depend on the digits: a split other than |P| primes per digit is part of the
    // identity (files made with the classic split keep their fingerprint).
    bool classic = true;
    for (std::size_t i = 0; i < q.size(); ++i) classic = classic && P->digit_of_[i] == i / p.size();
    if (!classic) {
        const std::vector<std::uint64_t> starts(P->digit_start_.begin(), P->digit_start_.end());
        h = fnv1a(h, starts.data(), starts.size() * sizeof(std::uint64_t));
    }
    P->fingerprint_ = h;
    return P;
}

std::string Params::summary() const {
    std::ostringstream o;
    double min_scale = nominal_scale_[0], max_scale = nominal_scale_[0];
    for (std::size_t l = 0; l <= top_scale_level_; ++l) {
        min_scale = std::min(min_scale, nominal_scale_[l]);
        max_scale = std::max(max_scale, nominal_scale_[l]);
    }
    char buf[512];
    std::snprintf(buf, sizeof buf, "CKKS %s: N = 2^%d (%zu slots max), secret %s, sigma %.1f\n",
                  lit_.name.empty() ? "(custom)" : lit_.name.c_str(), lit_.log_n, max_slots(),
                  lit_.secret == SecretDist::Ternary
                      ? "uniform ternary"
                      : ("sparse ternary h=" + std::to_string(lit_.hamming_weight)).c_str(),
                  lit_.sigma);
    o << buf;
    o << "  chain q_0..q_" << max_level() << " (bits):";
    for (u64 x : q_) o << ' ' << bit_length(x);
    o << "\n  special primes (bits):";
    for (u64 x : p_) o << ' ' << bit_length(x);
    std::snprintf(buf, sizeof buf,
                  "\n  log2 Q = %.1f, log2 QP = %.1f, 128-bit bound %d%s: %s\n"
                  "  levels %zu (scale levels 1..%zu), nominal scales 2^%.4f .. 2^%.4f, key switching dnum %zu (limbs",
                  log_q_, log_qp(),
                  lit_.secret == SecretDist::SparseTernary ? sparse_secret_max_log_qp(lit_.log_n, lit_.hamming_weight)
                                                           : max_log_qp(),
                  lit_.secret == SecretDist::SparseTernary ? " (sparse secret)" : "",
                  secure_ ? "secure" : "INSECURE (tests only)", max_level(),
                  top_scale_level_, std::log2(min_scale), std::log2(max_scale), dnum());
    o << buf;
    for (std::size_t j = 0; j < dnum(); ++j) o << ' ' << digit_limbs(j);
    o << " per digit, each digit's modulus " << (lit_.digits_by_bits ? "below P" : "|P| primes") << ")\n";
    return o.str();
}

// ================================================================ presets

namespace {

ParamsLiteral make(const std::string& name, int log_n, std::vector<int> log_q, std::vector<int> log_p,
                   int log_scale, bool insecure = false) {
    ParamsLiteral l;
    l.name = name;
    l.log_n = log_n;
    l.log_q = std::move(log_q);
    l.log_p = std::move(log_p);
    l.log_scale = log_scale;
    l.insecure = insecure;
    return l;
}

std::vector<int> rep(int bits, int count) { return std::vector<int>(static_cast<std::size_t>(count), bits); }

std::vector<int> cat(std::initializer_list<std::vector<int>> parts) {
    std::vector<int> v;
    for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
    return v;
}

}  // namespace

std::vector<PresetInfo> list_presets() {
    return {
        {"N16_QP1735_T_enc",
         "training and bootstrapping (secure; uniform ternary secret + sparse-secret encapsulation h = 32 at "
         "q0·p0): q0 50 bits, 18 levels at 2^40 (15 for computation after bootstrapping, 3 for SlotsToCoeffs), "
         "8 x 60 bits (EvalMod), 3 x 60 bits (CoeffsToSlots); 5 special primes of 61 bits (dnum 5: digits of 7, 7, 6, 5, 5 primes)"},
        {"N16_QP1533_T", "no bootstrapping planned (superseded for training by N16_QP1735_T_enc): q0 60 bits, "
                         "13 levels at 2^40, 8 x 60 bits, 3 x 56 bits; 5 special primes of 61 bits"},
        {"N16_QP1530_T_seal", "like-for-like with SEAL: q0 60 bits + 21 x 50 bits, 7 special primes of 60 bits"},
        {"N15_QP719_T", "N = 2^15, 12 levels at scale 2^40 (secure, no bootstrapping)"},
        {"N13_QP215_T", "N = 2^13, 3 levels at scale 2^35 (secure; small)"},
        {"N12_test", "INSECURE test ring: N = 2^12, 6 levels at 2^40"},
        {"N12_test_boot", "INSECURE test ring built like N16_QP1735_T_enc at N = 2^12 (bootstrapping and "
                          "training in seconds: tests and walk-throughs only)"},
        {"N10_test", "INSECURE test ring: N = 2^10, 4 levels at 2^35"},
    };
}

ParamsLiteral preset_literal(const std::string& name) {
    if (name == "N16_QP1725_T_enc") {  // former name (q0 was 52 bits, CoeffsToSlots 56): not listed
        static std::once_flag once;
        std::call_once(once, [] {
            std::fprintf(stderr, "note: CKKS preset N16_QP1725_T_enc is now N16_QP1735_T_enc (q0 50 bits, "
                                 "CoeffsToSlots 60 bits); use the new name\n");
        });
        return preset_literal("N16_QP1735_T_enc");
    }
    if (name == "N16_QP1735_T_enc")
        return make(name, 16, cat({{50}, rep(40, 18), rep(60, 8), rep(60, 3)}), rep(61, 5), 40);
    if (name == "N16_QP1533_T")
        return make(name, 16, cat({{60}, rep(40, 13), rep(60, 8), rep(56, 3)}), rep(61, 5), 40);
    if (name == "N16_QP1530_T_seal") {  // SEAL's split (7 primes per digit), like for like
        ParamsLiteral l = make(name, 16, cat({{60}, rep(50, 21)}), rep(60, 7), 50);
        l.digits_by_bits = false;
        return l;
    }
    if (name == "N15_QP719_T") return make(name, 15, cat({{59}, rep(40, 12)}), rep(60, 3), 40);
    if (name == "N13_QP215_T") return make(name, 13, cat({{50}, rep(35, 3)}), {60}, 35);
    if (name == "N12_test") return make(name, 12, cat({{55}, rep(40, 6)}), {55, 55}, 40, true);
    if (name == "N12_test_boot")
        return make(name, 12, cat({{50}, rep(40, 18), rep(60, 8), rep(60, 3)}), rep(61, 5), 40, true);
    if (name == "N10_test") return make(name, 10, cat({{50}, rep(35, 4)}), {50, 50}, 35, true);
    std::string names;
    for (const auto& p : list_presets()) names += " " + p.name;
    throw std::invalid_argument("unknown CKKS preset '" + name + "'; presets:" + names);
}

ParamsPtr preset(const std::string& name) { return Params::create(preset_literal(name)); }

}  // namespace bt::ckks
