// Encrypted training, the backends and the client side: TwinBackend (float64 vectors of
// slots, the plaintext twin that also counts operations and records rotation steps),
// CkksBackend (the same operations on CKKS ciphertexts, with per-stage timing, an encoded
// mask cache and real or stand-in bootstrapping), and the client-side packing of features,
// labels and the head into slots and back (pack_x, pack_y, pack_head, unpack_head). The
// engine that runs on either backend is in encrypted.cpp (see bt/train/encrypted.hpp).
#include "bt/train/encrypted.hpp"

#include "bt/ckks/lintrans.hpp"

#include <mutex>

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bt::train {

using ckks::ChebyshevPoly;

namespace {

long norm_step(long k, std::size_t slots) {
    const long n = static_cast<long>(slots);
    return ((k % n) + n) % n;
}

}  // namespace

// ================================================================ twin backend
TwinBackend::TwinBackend(std::size_t slots, std::size_t sparse_slots) : slots_(slots), sparse_slots_(sparse_slots) {}

TwinBackend::Ct TwinBackend::rotated(const Ct& a, long k) {
    const std::size_t s = static_cast<std::size_t>(norm_step(k, slots_));
    steps_.insert(static_cast<long>(s));
    // A complex value (add_times_i) is its real slots then its imaginary slots: each rotates.
    const std::size_t n = slots_;
    Ct r(a.size());
    for (std::size_t p = 0; p < a.size(); ++p) r[p] = a[p / n * n + (p % n + s) % n];
    return r;
}

TwinBackend::Ct TwinBackend::rotate(const Ct& a, long k) {
    if (norm_step(k, slots_) == 0) return a;
    ++counts.rotations;
    return rotated(a, k);
}

std::vector<TwinBackend::Ct> TwinBackend::rotate_hoisted(const Ct& a, const std::vector<long>& steps) {
    std::vector<Ct> out;
    for (long k : steps) {
        ++counts.hoisted_rotations;
        out.push_back(rotated(a, k));
    }
    return out;
}

TwinBackend::Ct TwinBackend::rotate_and_sum(const Ct& a, std::size_t window, long stride) {
    Ct r = a;
    for (std::size_t k = 1; k < window; k <<= 1) r = add(r, rotate(r, static_cast<long>(k) * stride));
    return r;
}

TwinBackend::Ct TwinBackend::mul(const Ct& a, const Ct& b) {
    ++counts.relins;
    return mul_lazy(a, b);
}
TwinBackend::Ct TwinBackend::mul_lazy(const Ct& a, const Ct& b) {
    ++counts.ct_mults;
    Ct r(a.size());
    for (std::size_t p = 0; p < a.size(); ++p) r[p] = a[p] * b[p];
    return r;
}
TwinBackend::Ct TwinBackend::mul_mask(const Ct& a, const Mask& m) {
    ++counts.plain_mults;
    Ct r(a.size());
    for (std::size_t p = 0; p < a.size(); ++p) r[p] = a[p] * m.v[p % m.v.size()];
    return r;
}
TwinBackend::Ct TwinBackend::add_times_i(const Ct& a, const Ct& b) {
    if (a.size() != slots_ || b.size() != slots_) throw std::logic_error("TwinBackend::add_times_i: real operands expected");
    Ct r(a);
    r.insert(r.end(), b.begin(), b.end());
    return r;
}
std::pair<TwinBackend::Ct, TwinBackend::Ct> TwinBackend::split_complex(const Ct& z) {
    ++counts.rotations;  // the conjugation (one key switch)
    steps_.insert(kConjugateStep);
    Ct re(slots_), im(slots_, 0.0);
    for (std::size_t p = 0; p < slots_; ++p) {
        re[p] = 2 * z[p];
        if (z.size() > slots_) im[p] = 2 * z[slots_ + p];
    }
    return {re, im};
}
TwinBackend::Ct TwinBackend::mask_lazy(const Ct& a, const Mask& m) { return mul_mask(a, m); }
TwinBackend::Ct TwinBackend::mul_sum_lazy(const std::vector<std::pair<const Ct*, const Ct*>>& terms) {
    if (terms.empty()) throw std::invalid_argument("mul_sum_lazy: no products");
    Ct r = mul_lazy(*terms[0].first, *terms[0].second);
    for (std::size_t t = 1; t < terms.size(); ++t) r = add(r, mul_lazy(*terms[t].first, *terms[t].second));
    return r;
}
TwinBackend::Ct TwinBackend::mul_const(const Ct& a, double c) {
    ++counts.const_mults;
    Ct r(a);
    for (double& x : r) x *= c;
    return r;
}
TwinBackend::Ct TwinBackend::mul_mask_const(const Ct& a, const Mask& m, double c) {
    ++counts.plain_mults;
    Ct r(a);
    for (std::size_t i = 0; i < r.size(); ++i) r[i] *= c * m.v[i];
    return r;
}
TwinBackend::Ct TwinBackend::mul_int(const Ct& a, long long k) {
    Ct r(a);
    for (double& x : r) x *= static_cast<double>(k);
    return r;
}
TwinBackend::Ct TwinBackend::add(const Ct& a, const Ct& b) {
    // A real value added to a complex one (add_times_i) goes to its real half.
    Ct r(a.size() >= b.size() ? a : b);
    const Ct& o = a.size() >= b.size() ? b : a;
    for (std::size_t p = 0; p < o.size(); ++p) r[p] += o[p];
    return r;
}
TwinBackend::Ct TwinBackend::sub(const Ct& a, const Ct& b) {
    Ct r(a);
    for (std::size_t p = 0; p < a.size(); ++p) r[p] -= b[p];
    return r;
}
TwinBackend::Ct TwinBackend::add_mask(const Ct& a, const Mask& m) {
    Ct r(a);
    for (std::size_t p = 0; p < a.size(); ++p) r[p] += m.v[p];
    return r;
}
TwinBackend::Ct TwinBackend::add_const(const Ct& a, double c) {
    Ct r(a);
    for (double& x : r) x += c;
    return r;
}
TwinBackend::Ct TwinBackend::poly(const Ct& a, const ChebyshevPoly& p) {
    ++counts.polyevals;
    const ckks::PolyEvalPlan plan = ckks::plan_chebyshev(p, static_cast<std::size_t>(ckks::polyeval_depth(p)));
    counts.ct_mults += static_cast<std::size_t>(plan.ct_mults);
    counts.relins += static_cast<std::size_t>(plan.relins);
    return ckks::evaluate_chebyshev_twin(p, a);
}
TwinBackend::Ct TwinBackend::boot_full(const Ct& a) {
    ++counts.boot_full;
    return a;
}
TwinBackend::Ct TwinBackend::boot_sparse(const Ct& a) {
    ++counts.boot_sparse;
    // A sparse bootstrap of c'·s1 slots returns the periodic part: the mean over the
    // copies (the input is periodic by construction; this is exact then).
    const std::size_t n = sparse_slots_, copies = a.size() / n;
    Ct r(a.size(), 0.0);
    for (std::size_t p = 0; p < n; ++p) {
        double s = 0;
        for (std::size_t k = 0; k < copies; ++k) s += a[p + k * n];
        for (std::size_t k = 0; k < copies; ++k) r[p + k * n] = s / static_cast<double>(copies);
    }
    return r;
}

// ================================================================ level backend
void LevelBackend::use(long k, std::size_t level) {
    const long s = norm_step(k, slots_);
    if (s == 0) return;
    ++uses_[s];
    auto it = levels_.find(s);
    if (it == levels_.end())
        levels_.emplace(s, level);
    else
        it->second = std::max(it->second, level);
}
LevelBackend::Ct LevelBackend::rotate(const Ct& a, long k) {
    use(k, a.level);
    return a;
}
std::vector<LevelBackend::Ct> LevelBackend::rotate_hoisted(const Ct& a, const std::vector<long>& steps) {
    for (long k : steps) use(k, a.level);
    return std::vector<Ct>(steps.size(), a);
}
LevelBackend::Ct LevelBackend::rotate_and_sum(const Ct& a, std::size_t window, long stride) {
    for (std::size_t k = 1; k < window; k <<= 1) use(static_cast<long>(k) * stride, a.level);
    return a;
}
LevelBackend::Ct LevelBackend::mul_sum_lazy(const std::vector<std::pair<const Ct*, const Ct*>>& terms) {
    if (terms.empty()) throw std::invalid_argument("mul_sum_lazy: no products");
    std::size_t l = terms[0].first->level;
    for (const auto& t : terms) l = std::min({l, t.first->level, t.second->level});
    return {l};
}
std::pair<LevelBackend::Ct, LevelBackend::Ct> LevelBackend::split_complex(const Ct& z) {
    ++uses_[kConjugateStep];
    auto it = levels_.find(kConjugateStep);
    if (it == levels_.end())
        levels_.emplace(kConjugateStep, z.level);
    else
        it->second = std::max(it->second, z.level);
    return {z, z};
}
LevelBackend::Ct LevelBackend::poly(const Ct& a, const ChebyshevPoly& p) {
    return {ckks::plan_chebyshev(p, a.level).output_level};
}
std::size_t LevelBackend::down(std::size_t l) {
    if (l == 0) throw std::logic_error("LevelBackend: a level consumed below level 0 (the level plan is infeasible)");
    return l - 1;
}

// ================================================================ CKKS backend
CkksBackend::CkksBackend(const ckks::Evaluator& ev, const ckks::Bootstrapper& full, const ckks::Bootstrapper& sparse,
                         std::size_t sparse_slots)
    : ev_(ev), full_(full), sparse_(sparse), sparse_slots_(sparse_slots), t0_(std::chrono::steady_clock::now()) {}

void CkksBackend::set_stage(Stage s) {
    const auto now = std::chrono::steady_clock::now();
    seconds[static_cast<std::size_t>(stage_)] += std::chrono::duration<double>(now - t0_).count();
    t0_ = now;
    stage_ = s;
}

const ckks::Plaintext& CkksBackend::encoded(const Mask& m, std::size_t level, double scale) {
    auto key = std::make_pair(m.key, std::make_pair(level, scale));
    std::lock_guard<std::mutex> lk(mu_);  // blocks run in parallel (Engine: parallel_blocks); map nodes do not move
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    return cache_.emplace(key, ev_.encoder().encode(m.v, level, scale)).first->second;
}

CkksBackend::Ct CkksBackend::rotate(const Ct& a, long k) {
    if (norm_step(k, a.slots) == 0) return a;
    locked([&] { ++counts.rotations; });
    return ev_.rotate(a, k);
}
std::vector<CkksBackend::Ct> CkksBackend::rotate_hoisted(const Ct& a, const std::vector<long>& steps) {
    locked([&] { counts.hoisted_rotations += steps.size(); });
    return ev_.rotate_hoisted(a, steps);
}
CkksBackend::Ct CkksBackend::rotate_and_sum(const Ct& a, std::size_t window, long stride) {
    std::size_t n = 0;
    for (std::size_t k = 1; k < window; k <<= 1) ++n;
    locked([&] { counts.rotations += n; });
    return ev_.rotate_and_sum(a, window, stride);
}
CkksBackend::Ct CkksBackend::mul(const Ct& a, const Ct& b) {
    locked([&] { ++counts.ct_mults; });
    locked([&] { ++counts.relins; });
    return ev_.multiply_relin_rescale(a, b);
}
CkksBackend::Ct CkksBackend::mul_mask(const Ct& a, const Mask& m) {
    locked([&] { ++counts.plain_mults; });
    Ct r = a;
    const double s = ev_.params()->nominal_scale(a.level);
    ev_.mul_plain_inplace(r, encoded(m, a.level, s));
    ev_.rescale_inplace(r);
    return r;
}
CkksBackend::Ct CkksBackend::mul_lazy(const Ct& a, const Ct& b) {
    locked([&] { ++counts.ct_mults; });
    return ev_.multiply(a, b);
}
CkksBackend::Ct CkksBackend::mask_lazy(const Ct& a, const Mask& m) {
    locked([&] { ++counts.plain_mults; });
    Ct r = a;
    ev_.mul_plain_inplace(r, encoded(m, a.level, ev_.params()->nominal_scale(a.level)));
    return r;
}
CkksBackend::Ct CkksBackend::mul_sum_lazy(const std::vector<std::pair<const Ct*, const Ct*>>& terms) {
    locked([&] { counts.ct_mults += terms.size(); });
    return ev_.tensor_sum(terms);
}
CkksBackend::Ct CkksBackend::add_times_i(const Ct& a, const Ct& b) {
    Ct r = b;
    ckks::mul_by_i_inplace(*ev_.params(), r);
    ev_.add_inplace(r, a);
    return r;
}
std::pair<CkksBackend::Ct, CkksBackend::Ct> CkksBackend::split_complex(const Ct& z) {
    locked([&] { ++counts.rotations; });
    const Ct c = ev_.conjugate(z);
    Ct re = ev_.add(z, c), im = ev_.sub(c, z);  // z + z̄ = 2·Re z;  i·(z̄ − z) = 2·Im z
    ckks::mul_by_i_inplace(*ev_.params(), im);
    return {std::move(re), std::move(im)};
}
CkksBackend::Ct CkksBackend::relin_rescale(Ct r) {
    locked([&] { ++counts.relins; });
    ev_.relinearize_inplace(r);
    ev_.rescale_inplace(r);
    return r;
}
CkksBackend::Ct CkksBackend::rescale(const Ct& a) { return ev_.rescale(a); }
CkksBackend::Ct CkksBackend::mul_const(const Ct& a, double c) {
    locked([&] { ++counts.const_mults; });
    Ct r = a;
    ev_.mul_const_inplace(r, c);
    ev_.rescale_inplace(r);
    return r;
}
CkksBackend::Ct CkksBackend::mul_mask_const(const Ct& a, const Mask& m, double c) {
    locked([&] { ++counts.plain_mults; });
    std::vector<double> v(m.v);
    for (double& x : v) x *= c;
    Ct r = a;
    ev_.mul_plain_inplace(r, ev_.encoder().encode(v, a.level, ev_.params()->nominal_scale(a.level)));
    ev_.rescale_inplace(r);
    return r;
}
CkksBackend::Ct CkksBackend::mul_int(const Ct& a, long long k) {
    Ct r = a;
    ev_.mul_int_inplace(r, k);
    return r;
}
CkksBackend::Ct CkksBackend::add(const Ct& a, const Ct& b) { return ev_.add(a, b); }
CkksBackend::Ct CkksBackend::add(Ct&& a, const Ct& b) {
    ev_.add_inplace(a, b);
    return std::move(a);
}
CkksBackend::Ct CkksBackend::sub(const Ct& a, const Ct& b) { return ev_.sub(a, b); }
CkksBackend::Ct CkksBackend::add_mask(const Ct& a, const Mask& m) {
    Ct r = a;
    ev_.add_plain_inplace(r, encoded(m, a.level, a.scale));
    return r;
}
CkksBackend::Ct CkksBackend::add_const(const Ct& a, double c) {
    Ct r = a;
    ev_.add_const_inplace(r, c);
    return r;
}
CkksBackend::Ct CkksBackend::poly(const Ct& a, const ChebyshevPoly& p) {
    locked([&] { ++counts.polyevals; });
    ckks::PolyEvalPlan plan;
    Ct r = ckks::evaluate_chebyshev(ev_, a, p, {}, &plan);
    locked([&] { counts.ct_mults += static_cast<std::size_t>(plan.ct_mults); });
    locked([&] { counts.relins += static_cast<std::size_t>(plan.relins); });
    return r;
}
CkksBackend::Ct CkksBackend::drop(const Ct& a, std::size_t level) {
    if (a.level <= level) return a;
    // Only the limbs the adjustment reads are copied: the gradient brings 224 rotations of X
    // from level 11 to 2 per HETAL-size step.
    return ev_.adjusted_to(a, level, ev_.params()->nominal_scale(level));
}
CkksBackend::Ct CkksBackend::boot_full(const Ct& a) {
    locked([&] { ++counts.boot_full; });
    return full_.bootstrap(a);
}
CkksBackend::Ct CkksBackend::boot_sparse(const Ct& a) {
    locked([&] { ++counts.boot_sparse; });
    Ct in = a;
    const std::size_t full_slots = in.slots;
    in.slots = sparse_slots_;  // a tiled vector IS the sparse packing of its tile
    Ct out = sparse_.bootstrap(in);
    out.slots = full_slots;    // and a sparse packing decodes, in full slots, to the tiled vector
    return out;
}
std::vector<double> CkksBackend::probe(const Ct& a) {
    if (!dec_) throw std::logic_error("CkksBackend::probe without a decryptor");
    return ckks::decrypt_real(*dec_, ev_.encoder(), a);
}

// ================================================================ packing
std::vector<std::vector<double>> pack_x(const EncShape& sh, const Features& f, const std::vector<std::size_t>& rows) {
    if (f.cols != sh.cols)
        throw std::invalid_argument("pack_x: features have " + std::to_string(f.cols) + " columns, the shape " +
                                    std::to_string(sh.cols));
    if (rows.size() > sh.blocks * sh.s0) throw std::invalid_argument("pack_x: more rows than the batch holds");
    std::vector<std::vector<double>> out(sh.blocks, std::vector<double>(sh.slots, 0.0));
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t b = k / sh.s0, r = k % sh.s0;
        const double* x = f.row(rows[k]);
        for (std::size_t j = 0; j < sh.cols; ++j) out[b][r * sh.s1 + sh.xoff() + j] = x[j];
    }
    return out;
}

std::vector<double> pack_y(const EncShape& sh, const Features& f, const std::vector<std::size_t>& rows) {
    std::vector<double> y(sh.slots, 0.0);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t b = k / sh.s0, r = k % sh.s0;
        const int lab = f.label[rows[k]];
        for (std::size_t i = 0; i < sh.cpad; ++i)
            if (static_cast<int>((r + i) % sh.cpad) == lab) y[r * sh.s1 + sh.offset(b, i)] = 1;
    }
    return y;
}

std::vector<double> pack_head(const EncShape& sh, const Head& h) {
    std::vector<double> v(sh.slots, 0.0);
    for (std::size_t p = 0; p < sh.slots; ++p) {
        const std::size_t k = (p / sh.s1) % sh.cpad, q = p % sh.s1;
        if (k < h.classes && q >= sh.xoff() && q - sh.xoff() < h.cols) v[p] = h.w[k * h.cols + q - sh.xoff()];
    }
    return v;
}

Head unpack_head(const EncShape& sh, const std::vector<double>& slots) {
    if (slots.size() < sh.slots)
        throw std::invalid_argument("unpack_head: " + std::to_string(slots.size()) + " slots, the shape has " +
                                    std::to_string(sh.slots));
    Head h;
    h.classes = static_cast<std::size_t>(sh.c);
    h.cols = sh.cols;
    h.w.assign(h.classes * h.cols, 0.0);
    const std::size_t copies = sh.slots / sh.tile_slots();
    for (std::size_t k = 0; k < h.classes; ++k)
        for (std::size_t j = 0; j < h.cols; ++j) {
            double s = 0;
            for (std::size_t t = 0; t < copies; ++t) s += slots[t * sh.tile_slots() + k * sh.s1 + sh.xoff() + j];
            h.w[k * h.cols + j] = s / static_cast<double>(copies);
        }
    return h;
}

std::string tiled_head_violation(const EncShape& sh, const std::vector<double>& slots, double tol) {
    if (slots.size() < sh.slots) return "holds " + std::to_string(slots.size()) + " slots instead of " + std::to_string(sh.slots);
    const std::size_t tile = sh.tile_slots();
    for (std::size_t p = 0; p < sh.slots; ++p) {
        const std::size_t q = p % tile, row = q / sh.s1, col = q % sh.s1;
        const bool weight = sh.is_head_weight(p);
        const double v = slots[p];
        char b[160];
        if (weight && p >= tile && !(std::fabs(v - slots[q]) <= tol)) {
            std::snprintf(b, sizeof b, "slot %zu (copy %zu of weight [%zu][%zu]) differs from the first copy by %.3g",
                          p, p / tile, row, col - sh.xoff(), std::fabs(v - slots[q]));
            return b;
        }
        if (!weight && !(std::fabs(v) <= tol)) {
            std::snprintf(b, sizeof b, "slot %zu, outside the head's weights, holds %.3g instead of 0", p, v);
            return b;
        }
    }
    return "";
}

// ================================================================ keys of a plan's steps
std::vector<std::uint64_t> galois_elements(const ckks::KeyGenerator& kg, const std::vector<long>& steps) {
    std::vector<long> rot;
    bool conj = false;
    for (long s : steps) {
        if (s == kConjugateStep)
            conj = true;
        else
            rot.push_back(s);
    }
    return kg.galois_elements_for_steps(rot, 0, conj);
}

std::uint64_t galois_element(const ckks::Encoder& enc, long step) {
    return step == kConjugateStep ? 2 * enc.params()->N() - 1 : enc.galois_element(step);
}

}  // namespace bt::train
