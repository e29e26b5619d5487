// The homomorphic DFT of bootstrapping: the special FFT of the encoder factored into
// sparse stages of merged radix-2 butterfly layers, each stage one LinearTransform
// (see bt/ckks/lintrans.hpp for the conventions: bit-reversed slot order, real and
// imaginary parts, sparse packing).
//
// Determinism across targets: the twiddles come from det::cos_2pi_ratio / sin_2pi_ratio
// and the per-stage constant from det::pow (bt/detmath.hpp), so the diagonals, and hence
// bootstrapping, are the same bits on x86-64 and aarch64 (no long double, no libm).
#include "bt/ckks/lintrans.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>

namespace bt::ckks {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("homomorphic DFT: " + what); }

std::size_t log2_exact(std::size_t n) {
    std::size_t L = 0;
    while ((std::size_t{1} << L) < n) ++L;
    return L;
}

bool is_pow2(std::size_t x) { return x != 0 && (x & (x - 1)) == 0; }

// e^(2πi·(5^j mod 4·len)/(4·len)), the twiddle of butterfly j in a layer of block length
// len (the same value as Encoder::fft_special's root: the same function of the same angle).
cplx twiddle(std::size_t j, std::size_t len) {
    const std::size_t lenq = 4 * len;
    std::size_t e = 1;
    for (std::size_t t = 0; t < j; ++t) e = e * 5 % lenq;
    double c, s;
    det::cis_2pi_ratio(e, lenq, c, s);
    return cplx(c, s);
}

void put(Diagonals& m, std::size_t d, std::size_t r, cplx v, std::size_t n) {
    std::vector<cplx>& diag = m[d];
    if (diag.empty()) diag.assign(n, cplx(0, 0));
    diag[r] += v;
}

// Layer s (1 … L) of Encoder::fft_special, block length 2^s, span h = 2^(s-1):
//   (x, y) -> (x + W_j·y, x - W_j·y)   at rows (i+j, i+j+h)
Diagonals forward_layer(std::size_t n, std::size_t s) {
    const std::size_t h = std::size_t{1} << (s - 1), len = 2 * h;
    Diagonals m;
    std::vector<cplx> w(h);
    for (std::size_t j = 0; j < h; ++j) w[j] = twiddle(j, len);
    for (std::size_t r = 0; r < n; ++r) {
        const std::size_t i = r % len;
        if (i < h) {
            put(m, 0, r, 1, n);
            put(m, h % n, r, w[i], n);
        } else {
            put(m, 0, r, -w[i - h], n);
            put(m, (n - h) % n, r, 1, n);
        }
    }
    return m;
}

// Inverse of forward_layer, halved (the L halvings give fft_special_inv's 1/n):
//   (a, b) -> ((a + b)/2, (a - b)·conj(W_j)/2)
Diagonals inverse_layer(std::size_t n, std::size_t s) {
    const std::size_t h = std::size_t{1} << (s - 1), len = 2 * h;
    Diagonals m;
    std::vector<cplx> w(h);
    for (std::size_t j = 0; j < h; ++j) w[j] = std::conj(twiddle(j, len)) * 0.5;
    for (std::size_t r = 0; r < n; ++r) {
        const std::size_t i = r % len;
        if (i < h) {
            put(m, 0, r, 0.5, n);
            put(m, h % n, r, 0.5, n);
        } else {
            put(m, 0, r, -w[i - h], n);
            put(m, (n - h) % n, r, w[i - h], n);
        }
    }
    return m;
}

// Layer ranges [lo, hi] (1-based, inclusive) of the stages in order of application.
std::vector<std::pair<std::size_t, std::size_t>> stage_layers(DFTKind kind, std::size_t L,
                                                             const std::vector<std::size_t>& k) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t done = 0;
    for (std::size_t t : k) {
        if (kind == DFTKind::SlotsToCoeffs)
            out.emplace_back(done + 1, done + t);
        else
            out.emplace_back(L - done - t + 1, L - done);
        done += t;
    }
    return out;
}

// Diagonal index set of layers lo … hi merged, over n slots: the sumset of {0, ±2^(s-1)}.
std::set<std::size_t> layer_sumset(std::size_t n, std::size_t lo, std::size_t hi) {
    std::set<std::size_t> cur{0};
    for (std::size_t s = lo; s <= hi; ++s) {
        const std::size_t h = std::size_t{1} << (s - 1);
        std::set<std::size_t> next;
        for (std::size_t d : cur) {
            next.insert(d);
            next.insert((d + h) % n);
            next.insert((d + n - h) % n);
        }
        cur.swap(next);
    }
    return cur;
}

// The stage's index set and view: sparse CoeffsToSlots' last stage lives on 2n slots
// with the same indices (row mask); sparse SlotsToCoeffs' first stage on 2n slots with
// the indices D ∪ (D + n) (the repacking [[I, iI], [I, iI]] folded in).
DFTStagePlan stage_plan(DFTKind kind, std::size_t n, bool sparse, std::size_t lo, std::size_t hi, bool first,
                        bool last) {
    DFTStagePlan sp;
    sp.layers = hi - lo + 1;
    const std::set<std::size_t> d = layer_sumset(n, lo, hi);
    sp.view_slots = n;
    std::set<std::size_t> idx = d;
    if (sparse && kind == DFTKind::CoeffsToSlots && last) sp.view_slots = 2 * n;
    if (sparse && kind == DFTKind::SlotsToCoeffs && first) {
        sp.view_slots = 2 * n;
        for (std::size_t x : d) idx.insert(x + n);
    }
    sp.diagonals.assign(idx.begin(), idx.end());
    sp.split = bsgs_split(sp.diagonals, sp.view_slots);
    return sp;
}

}  // namespace

std::size_t bit_reverse(std::size_t k, std::size_t n) {
    const std::size_t L = log2_exact(n);
    std::size_t r = 0;
    for (std::size_t b = 0; b < L; ++b)
        if (k & (std::size_t{1} << b)) r |= std::size_t{1} << (L - 1 - b);
    return r;
}

std::vector<cplx> bit_reverse_vector(const std::vector<cplx>& v) {
    if (!is_pow2(v.size())) fail("bit reversal of a vector whose length is not a power of two");
    std::vector<cplx> out(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) out[k] = v[bit_reverse(k, v.size())];
    return out;
}

// ================================================================ subring trace

std::vector<long> subring_trace_steps(std::size_t N, std::size_t slots) {
    if (!is_pow2(N) || !is_pow2(slots) || slots > N / 2)
        fail("subring trace: slots = " + std::to_string(slots) + " must be a power of two <= N/2");
    std::vector<long> steps;
    for (std::size_t j = slots; j < N / 2; j <<= 1) steps.push_back(static_cast<long>(j));
    return steps;
}

Ciphertext subring_trace(const Evaluator& ev, const Ciphertext& ct, std::size_t slots) {
    const std::size_t half = ev.params()->max_slots();
    const std::vector<long> steps = subring_trace_steps(ev.params()->N(), slots);
    Ciphertext r = ct;
    r.slots = half;  // the rotations act on all N/2 slots
    for (long j : steps) ev.add_inplace(r, ev.rotate(r, j));
    r.slots = slots;
    return r;
}

// ================================================================ factors

std::vector<Diagonals> dft_factors(const Encoder& enc, DFTKind kind, std::size_t n,
                                   const std::vector<std::size_t>& layers_per_stage) {
    if (!is_pow2(n) || n < 2 || n > enc.params()->max_slots())
        fail("slots = " + std::to_string(n) + " must be a power of two in [2, N/2]");
    const std::size_t L = log2_exact(n);
    std::size_t sum = 0;
    for (std::size_t k : layers_per_stage) {
        if (k == 0) fail("a stage with no layers");
        sum += k;
    }
    if (sum != L) fail("layers per stage sum to " + std::to_string(sum) + ", expected log2(slots) = " + std::to_string(L));
    std::vector<Diagonals> out;
    for (const auto& [lo, hi] : stage_layers(kind, L, layers_per_stage)) {
        Diagonals m;
        if (kind == DFTKind::SlotsToCoeffs) {  // F_lo first
            m = forward_layer(n, lo);
            for (std::size_t s = lo + 1; s <= hi; ++s) m = compose_diagonals(forward_layer(n, s), m, n);
        } else {  // G_hi first
            m = inverse_layer(n, hi);
            for (std::size_t s = hi - 1; s >= lo; --s) m = compose_diagonals(inverse_layer(n, s), m, n);
        }
        out.push_back(std::move(m));
    }
    return out;
}

// ================================================================ plan

std::vector<long> DFTPlan::rotation_steps() const {
    std::set<long> s;
    for (const DFTStagePlan& st : stages) {
        for (std::size_t b : st.split.baby)
            if (b) s.insert(static_cast<long>(b));
        const HornerGiants h = horner_giants(st.split, st.view_slots);
        if (method == LTMethod::DoubleHoistedFewKeys && h.usable) {
            for (std::size_t g : h.steps) s.insert(static_cast<long>(g));
        } else {
            for (std::size_t g : st.split.giant)
                if (g) s.insert(static_cast<long>(g));
        }
    }
    return {s.begin(), s.end()};
}

std::size_t DFTPlan::rotations() const {
    std::size_t r = conjugation ? 1 : 0;
    for (const DFTStagePlan& st : stages) {
        const HornerGiants h = horner_giants(st.split, st.view_slots);
        if (method == LTMethod::DoubleHoistedFewKeys && h.usable) {
            std::size_t babies = 0;
            for (std::size_t b : st.split.baby) babies += b != 0;
            r += babies + h.rotations;
        } else {
            r += st.split.rotations;
        }
    }
    return r;
}

std::size_t DFTPlan::diagonals() const {
    std::size_t d = 0;
    for (const DFTStagePlan& st : stages) d += st.diagonals.size();
    return d;
}

std::string DFTPlan::describe() const {
    std::ostringstream o;
    o << (kind == DFTKind::CoeffsToSlots ? "CoeffsToSlots" : "SlotsToCoeffs") << " N=" << N << " slots=" << slots
      << ": depth " << depth() << ", " << rotations() << " key switches per evaluation, " << rotation_steps().size()
      << " distinct rotation keys" << (conjugation ? " + conjugation" : "") << ", " << diagonals()
      << " plaintexts; stages (layers/diagonals/n1/baby+giant rotations):";
    for (const DFTStagePlan& st : stages)
        o << " [" << st.layers << "/" << st.diagonals.size() << "/" << st.split.n1 << "/"
          << st.split.rotations << "]";
    return o.str();
}

DFTPlan plan_dft(std::size_t N, const DFTOptions& opt) {
    const std::size_t n = opt.slots;
    if (!is_pow2(N) || N < 4) fail("ring dimension " + std::to_string(N) + " is not a power of two >= 4");
    if (!is_pow2(n) || n < 2 || n > N / 2)
        fail("slots = " + std::to_string(n) + " must be a power of two in [2, N/2 = " + std::to_string(N / 2) + "]");
    const std::size_t L = log2_exact(n), b = opt.level_budget;
    if (b < 1 || b > L)
        fail("level budget " + std::to_string(b) + " must be in [1, log2(slots) = " + std::to_string(L) + "]");
    const bool sparse = n < N / 2;
    DFTPlan plan;
    plan.kind = opt.kind;
    plan.N = N;
    plan.slots = n;
    plan.conjugation = opt.kind == DFTKind::CoeffsToSlots;
    if (opt.method != LTMethod::DoubleHoisted && opt.method != LTMethod::DoubleHoistedFewKeys)
        fail("the stages are evaluated DoubleHoisted or DoubleHoistedFewKeys");
    plan.method = opt.method;

    // Stage cost, memoised by layer range and position.
    std::map<std::tuple<std::size_t, std::size_t, bool, bool>, DFTStagePlan> memo;
    auto stage = [&](std::size_t lo, std::size_t hi, bool first, bool last) -> const DFTStagePlan& {
        const auto key = std::make_tuple(lo, hi, first, last);
        auto it = memo.find(key);
        if (it == memo.end()) it = memo.emplace(key, stage_plan(opt.kind, n, sparse, lo, hi, first, last)).first;
        return it->second;
    };
    auto build = [&](const std::vector<std::size_t>& k) {
        std::vector<DFTStagePlan> st;
        const auto ranges = stage_layers(opt.kind, L, k);
        for (std::size_t t = 0; t < ranges.size(); ++t)
            st.push_back(stage(ranges[t].first, ranges[t].second, t == 0, t + 1 == ranges.size()));
        return st;
    };
    auto cost = [](const std::vector<DFTStagePlan>& st) {
        std::size_t r = 0, d = 0;
        for (const DFTStagePlan& s : st) {
            r += s.split.rotations;
            d += s.diagonals.size();
        }
        return std::make_pair(r, d);
    };

    if (!opt.layers_per_stage.empty()) {
        std::size_t sum = 0;
        for (std::size_t k : opt.layers_per_stage) sum += k;
        if (opt.layers_per_stage.size() != b || sum != L ||
            std::count(opt.layers_per_stage.begin(), opt.layers_per_stage.end(), std::size_t{0}) != 0)
            fail("layers_per_stage must list " + std::to_string(b) + " positive counts summing to " +
                 std::to_string(L));
        plan.stages = build(opt.layers_per_stage);
        return plan;
    }
    // Every composition of L into b parts; keep the one with the fewest key switches
    // (then the fewest plaintexts).
    std::vector<std::size_t> k(b), best_k;
    std::pair<std::size_t, std::size_t> best{~std::size_t{0}, ~std::size_t{0}};
    std::function<void(std::size_t, std::size_t)> rec = [&](std::size_t pos, std::size_t left) {
        if (pos + 1 == b) {
            k[pos] = left;
            const auto c = cost(build(k));
            if (c < best) {
                best = c;
                best_k = k;
            }
            return;
        }
        for (std::size_t t = 1; t + (b - pos - 1) <= left; ++t) {
            k[pos] = t;
            rec(pos + 1, left - t);
        }
    };
    rec(0, L);
    plan.stages = build(best_k);
    return plan;
}

// ================================================================ HomomorphicDFT

HomomorphicDFT::HomomorphicDFT(const Encoder& enc, const DFTOptions& opt) : params_(enc.params()), opt_(opt) {
    const Params& P = *params_;
    plan_ = plan_dft(P.N(), opt);
    const std::size_t n = opt.slots, b = plan_.depth();
    const bool sparse = n < P.max_slots();
    if (opt.level < b || opt.level > P.max_level())
        fail("input level " + std::to_string(opt.level) + " cannot hold " + std::to_string(b) +
             " stages (levels 1 … " + std::to_string(P.max_level()) + ")");
    if (!(opt.scaling != 0) || !std::isfinite(opt.scaling)) fail("scaling must be a finite nonzero constant");
    opt_.layers_per_stage.clear();
    for (const DFTStagePlan& st : plan_.stages) opt_.layers_per_stage.push_back(st.layers);
    std::vector<Diagonals> f = dft_factors(enc, opt.kind, n, opt_.layers_per_stage);

    // The constant (scaling, and 1/2 for the full-packing real/imaginary split) spread
    // evenly over the stages; its sign goes to the first.
    double total = opt.scaling;
    if (opt.kind == DFTKind::CoeffsToSlots && !sparse) total *= 0.5;
    const double per = det::pow(std::fabs(total), 1.0 / static_cast<double>(b));
    for (std::size_t t = 0; t < b; ++t) {
        const double c = (t == 0 && total < 0) ? -per : per;
        for (auto& kv : f[t])
            for (cplx& x : kv.second) x *= c;
    }
    for (std::size_t t = 0; t < b; ++t) {
        const DFTStagePlan& sp = plan_.stages[t];
        Diagonals m;
        if (sp.view_slots == n) {
            m = std::move(f[t]);
        } else if (opt.kind == DFTKind::CoeffsToSlots) {
            // Replicated over 2n slots, rows scaled by [1/2 | -i/2].
            for (const auto& [d, v] : f[t]) {
                std::vector<cplx> w(2 * n);
                for (std::size_t r = 0; r < 2 * n; ++r) w[r] = v[r % n] * (r < n ? cplx(0.5, 0) : cplx(0, -0.5));
                m[d] = std::move(w);
            }
        } else {
            // Replicated over 2n slots, after the repacking [a | b] -> [a + ib | a + ib].
            Diagonals rep, repack;
            for (const auto& [d, v] : f[t]) {
                std::vector<cplx> w(2 * n);
                for (std::size_t r = 0; r < 2 * n; ++r) w[r] = v[r % n];
                rep[d] = std::move(w);
            }
            repack[0].assign(2 * n, cplx(0, 1));
            repack[n].assign(2 * n, cplx(1, 0));
            for (std::size_t r = 0; r < n; ++r) {
                repack[0][r] = 1;
                repack[n][r] = cplx(0, 1);
            }
            m = compose_diagonals(rep, repack, 2 * n);
        }
        std::vector<std::size_t> idx;
        for (const auto& kv : m) idx.push_back(kv.first);
        if (idx != sp.diagonals) throw std::logic_error("homomorphic DFT: stage diagonals differ from the plan");
        const std::size_t level = opt.level - t;
        const double scale = opt.keep_scale ? static_cast<double>(P.q(level)) : 0.0;
        stages_.emplace_back(enc, m, sp.view_slots, level, scale, sp.split.n1, opt.compact);
        if (sp.view_slots != n && opt.kind == DFTKind::SlotsToCoeffs) stages_.back().set_output_slots(n);
    }
    const std::size_t view = sparse ? 2 * n : n;
    std::set<std::uint64_t> g;
    for (long s : plan_.rotation_steps()) g.insert(enc.galois_element(s, view));
    if (plan_.conjugation) g.insert(2 * P.N() - 1);
    galois_.assign(g.begin(), g.end());
    std::set<std::uint64_t> rep;
    for (const DFTStagePlan& st : plan_.stages) {
        const HornerGiants h = horner_giants(st.split, st.view_slots);
        if (plan_.method == LTMethod::DoubleHoistedFewKeys && h.usable && h.span >= 2)
            rep.insert(enc.galois_element(static_cast<long>(st.split.n1), view));
    }
    repeated_.assign(rep.begin(), rep.end());
}

std::vector<std::uint64_t> HomomorphicDFT::galois_elements() const { return galois_; }

void HomomorphicDFT::precompute() {
    for (LinearTransform& t : stages_) t.precompute();
    opt_.compact = false;
}

Ciphertext HomomorphicDFT::apply_stages(const Evaluator& ev, const Ciphertext& ct, LTMethod method) const {
    Ciphertext cur = stages_[0].evaluate(ev, ct, method);
    for (std::size_t t = 1; t < stages_.size(); ++t) cur = stages_[t].evaluate(ev, cur, method);
    return cur;
}

HomomorphicDFT::Split HomomorphicDFT::coeffs_to_slots(const Evaluator& ev, const Ciphertext& ct) const {
    if (opt_.kind != DFTKind::CoeffsToSlots) fail("coeffs_to_slots on a SlotsToCoeffs transform");
    if (ct.slots != opt_.slots)
        fail("ciphertext with " + std::to_string(ct.slots) + " slots, the transform has " + std::to_string(opt_.slots));
    const Params& P = *params_;
    Split out;
    Ciphertext y = apply_stages(ev, ct, opt_.method);
    const Ciphertext c = ev.conjugate(y);
    if (opt_.slots < P.max_slots()) {  // [w/2 | -i·w/2] + conj = [Re w | Im w]
        out.real = ev.add(y, c);
        return out;
    }
    out.real = ev.add(y, c);  // w/2 + conj(w)/2
    out.imag = ev.sub(c, y);  // -i·Im(w) …
    mul_by_i_inplace(P, out.imag);  // … times i
    return out;
}

Ciphertext HomomorphicDFT::slots_to_coeffs(const Evaluator& ev, const Ciphertext& re, const Ciphertext* im) const {
    if (opt_.kind != DFTKind::SlotsToCoeffs) fail("slots_to_coeffs on a CoeffsToSlots transform");
    const Params& P = *params_;
    const std::size_t n = opt_.slots;
    if (n < P.max_slots()) {
        if (im) fail("sparse packing takes one 2n-slot ciphertext [re | im]; pass im = nullptr");
        if (re.slots != 2 * n)
            fail("sparse SlotsToCoeffs expects " + std::to_string(2 * n) + " slots, got " + std::to_string(re.slots));
        return apply_stages(ev, re, opt_.method);
    }
    if (!im) fail("full packing takes the real and the imaginary parts as two ciphertexts");
    if (re.slots != n || im->slots != n) fail("full SlotsToCoeffs expects two ciphertexts of N/2 slots");
    Ciphertext v = *im;
    mul_by_i_inplace(P, v);
    ev.add_inplace(v, re);
    return apply_stages(ev, v, opt_.method);
}

}  // namespace bt::ckks
