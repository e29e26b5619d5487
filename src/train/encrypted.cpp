// Encrypted softmax-regression training, the engine: Engine<BK>, the packed logits, softmax,
// gradient and Nesterov step written once over a backend, dry_run_step (one step on the
// twin to count operations and collect rotation steps), and the explicit instantiations for
// TwinBackend and CkksBackend. The shape, polynomials and level plan are in plan.cpp, the
// backends and client-side packing in backends.cpp (see bt/train/encrypted.hpp for the
// layout and maths).
#include "bt/train/encrypted.hpp"

#include "bt/threadpool.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bt::train {

namespace {

// fn(i) for i < count: on the pool's threads when the backend allows it (each call then runs
// its operations on one thread: the blocks of a batch scale better than the limbs of one
// operation), else in order on this thread. Callers store results by index and combine them
// in index order, so the words computed do not depend on the schedule.
template <class F>
void for_each_block(bool parallel, std::size_t count, F&& fn) {
    if (parallel && count > 1 && ThreadPool::global().size() > 1)
        parallel_for(count, [&](std::size_t i, unsigned) { fn(i); });
    else
        for (std::size_t i = 0; i < count; ++i) fn(i);
}

}  // namespace

// ================================================================ engine
// Baby steps k of the logits' column rotations (see the packing notes): per block, k − 1
// hoisted rotations of X, c'/k relinearizations and c'/k − 1 rotations of the partial sums.
// k minimises (k − 1)·h + 2c'/k − 1 in units of one key switch, with h = 0.7 the cost of a
// hoisted rotation relative to a full one (measured at N = 2^16, level 11: 14.2 / 18.7 ms
// at 2 threads, 25 / 37.5 ms at 1 thread, Zen 5). c' = 16: k = 8; c' = 8: k = 4.
std::size_t logit_baby_steps(std::size_t cpad) {
    std::size_t best = cpad;
    double best_cost = 1e300;
    for (std::size_t k = 1; k <= cpad; k <<= 1) {
        const double cost = 0.7 * static_cast<double>(k - 1) + 2.0 * static_cast<double>(cpad / k) - 1.0;
        if (cost < best_cost - 1e-9) {
            best_cost = cost;
            best = k;
        }
    }
    return best;
}

template <class BK>
Engine<BK>::Engine(const EncShape& sh, const SoftmaxPolys& sp, BK& bk)
    : sh_(sh), sp_(sp), bk_(bk), baby_(logit_baby_steps(sh.cpad)),
      keep_level_(LevelPlan::make(sp, bk.boot_level()).d_level) {
    const std::size_t n = sh.slots;
    logit_mask_ = Mask{"logit", std::vector<double>(n, 0.0)};
    for (std::size_t r = 0; r < sh.s0; ++r)
        for (std::size_t i = 0; i < sh.cpad; ++i)
            if (!pad(r, i)) logit_mask_.v[r * sh.s1 + i] = 1.0 / (sh.c * sp.cfg.V);
    logit_half_mask_ = Mask{"logit_half", logit_mask_.v};
    for (double& x : logit_half_mask_.v) x /= 2;
    for (std::size_t k = 0; k < sh.cpad; ++k) {
        Mask m{"col" + std::to_string(k), std::vector<double>(n, 0.0)};
        for (std::size_t r = 0; r < sh.s0; ++r)
            for (std::size_t j = 0; j < sh.cols; ++j)
                if ((sh.xoff() + j) % sh.cpad == k) m.v[r * sh.s1 + sh.xoff() + j] = 1.0;
        col_mask_.push_back(std::move(m));
    }
    head_mask_ = Mask{"head", std::vector<double>(n, 0.0)};
    for (std::size_t p = 0; p < n; ++p)
        if (sh.is_head_weight(p)) head_mask_.v[p] = 1;
    pad_const_ = Mask{"padconst", std::vector<double>(n, 0.0)};
    half_mask_ = Mask{"half", std::vector<double>(n, 0.0)};
    for (std::size_t r = 0; r < sh.s0; ++r)
        for (std::size_t b = 0; b < sh.blocks; ++b)
            for (std::size_t i = 0; i < sh.cpad; ++i) {
                half_mask_.v[r * sh.s1 + sh.offset(b, i)] = 1;
                if (pad(r, i)) pad_const_.v[r * sh.s1 + sh.offset(b, i)] = -1;
            }
}

template <class BK>
const Mask& Engine<BK>::grad_mask(std::size_t rows_valid, double scale) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "grad_%zu_%.17g", rows_valid, scale);
    auto it = grad_cache_.find(buf);
    if (it != grad_cache_.end()) return it->second;
    Mask m{buf, std::vector<double>(sh_.slots, 0.0)};
    for (std::size_t r = 0; r < rows_valid; ++r)
        for (std::size_t i = 0; i < sh_.cpad; ++i)
            if (!pad(r, i)) m.v[r * sh_.s1 + i] = scale;
    return grad_cache_.emplace(buf, std::move(m)).first->second;
}

template <class BK>
std::vector<long> Engine<BK>::baby_steps() const {
    std::vector<long> steps;
    for (long i = 1; i < static_cast<long>(baby_); ++i) steps.push_back(i);
    return steps;
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::select_columns(const std::vector<const Ct*>& by_residue) {
    Ct a = bk_.mask_lazy(*by_residue[0], col_mask_[0]);
    for (std::size_t k = 1; k < sh_.cpad; ++k) a = bk_.add(std::move(a), bk_.mask_lazy(*by_residue[k], col_mask_[k]));
    return bk_.rescale(a);
}

template <class BK>
void Engine<BK>::prepare(BatchData<BK>& bd) {
    bk_.set_stage(Stage::MatMul);
    const std::vector<long> steps = baby_steps();
    bd.xrot.clear();
    for (const Ct& x : bd.x) bd.xrot.push_back(bk_.rotate_hoisted(x, steps));
    bk_.set_stage(Stage::Other);
}

template <class BK>
bool Engine<BK>::rotations_fit(const EncShape& sh, std::size_t batches, std::size_t x_level, std::size_t n) {
    return batches * sh.blocks * (logit_baby_steps(sh.cpad) - 1) * 2 * (x_level + 1) * n * sizeof(std::uint64_t) <=
           kRotationCacheBytes;
}

template <class BK>
void Engine<BK>::record_ranges(const Ct& t, const Ct& s, const Ct* q1, const Ct* q2, const BatchData<BK>& bd) {
    if (!bk_.can_probe()) return;
    RangeStats rs;
    const auto tv = bk_.probe(t), sv = bk_.probe(s);
    std::vector<double> q1v, q2v;
    if (q1) q1v = bk_.probe(*q1);
    if (q2) q2v = bk_.probe(*q2);
    for (std::size_t b = 0; b < sh_.blocks; ++b)
        for (std::size_t r = 0; r < bd.rows_valid[b]; ++r) {
            for (std::size_t i = 0; i < sh_.cpad; ++i) {
                const std::size_t p = r * sh_.s1 + sh_.offset(b, i);
                if (!pad(r, i)) rs.t_max = std::max(rs.t_max, std::fabs(tv[p]));
                const double S = (sv[p] - sp_.beta_g) / sp_.alpha_g;
                rs.s_min = std::min(rs.s_min, S);
                rs.s_max = std::max(rs.s_max, S);
                if (q1) {
                    rs.q1_min = std::min(rs.q1_min, q1v[p]);
                    rs.q1_max = std::max(rs.q1_max, q1v[p]);
                }
                if (q2) {
                    rs.q2_min = std::min(rs.q2_min, q2v[p]);
                    rs.q2_max = std::max(rs.q2_max, q2v[p]);
                }
            }
        }
    ranges.merge(rs);
}

template <class BK>
std::vector<typename Engine<BK>::Ct> Engine<BK>::head_diagonals(const Ct& vh, std::size_t level) {
    const long s1 = static_cast<long>(sh_.s1);
    // Centre the classes: c·W̃ − Σ_k rot(W̃, k·s1) (pad rows of W are zero), 1/c in the masks.
    const Ct sum = bk_.rotate_and_sum(vh, sh_.cpad, s1);
    const Ct wc = bk_.sub(bk_.mul_int(vh, sh_.c), sum);
    std::vector<long> steps;
    for (std::size_t k = 1; k < sh_.cpad; ++k) steps.push_back(static_cast<long>(k) * s1);
    const std::vector<Ct> wr = bk_.rotate_hoisted(wc, steps);
    // U: column m of row r from row (r + k) of Wc with k ≡ m, i.e. class (m + r) mod c'.
    std::vector<const Ct*> by_residue{&wc};
    for (const Ct& r : wr) by_residue.push_back(&r);
    Ct u = bk_.drop(select_columns(by_residue), level);  // rotated where X is
    // M'_i = rot(M_i, −k·g) for i = a + k·g: rot(U, a − i·s1).
    steps.clear();
    for (std::size_t i = 1; i < sh_.cpad; ++i) steps.push_back(static_cast<long>(i % baby_) - static_cast<long>(i) * s1);
    std::vector<Ct> m = bk_.rotate_hoisted(u, steps);
    m.insert(m.begin(), std::move(u));
    return m;
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::logits(const Ct& vh, const BatchData<BK>& bd) {
    return logits(vh, bd, nullptr);
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::logits(const Ct& vh, const BatchData<BK>& bd, std::vector<std::vector<Ct>>* keep) {
    bk_.set_stage(Stage::MatMul);
    const std::vector<Ct> M = head_diagonals(vh, bk_.level(bd.x[0]));
    const std::vector<long> steps = baby_steps();
    const bool cached = bd.xrot.size() == bd.x.size();
    const std::size_t k = baby_, giants = sh_.cpad / baby_, B = sh_.blocks;
    if (keep) keep->assign(cached ? 0 : B, {});
    // Blocks p and p + H share one ciphertext from their products on, T_p + i·T_{p+H}
    // (H = ⌈blocks/2⌉; a block without a partner goes alone): its relinearizations, giant
    // steps, row reduction, mask and move to offset p·2c' serve both; one conjugation at the
    // end separates the real and imaginary parts (the masks carry the ½ of Re z = (z + z̄)/2).
    const bool paired = B > 1;
    const std::size_t H = (B + 1) / 2;
    // Block b's products T_{b,g} = Σ_a rot(X_b, a) ⊙ M'_{a + k·g} (tensor products, not relinearized).
    auto products = [&](std::size_t b) {
        std::vector<Ct> fresh;
        if (!cached) fresh = bk_.rotate_hoisted(bd.x[b], steps);
        const std::vector<Ct>& xr = cached ? bd.xrot[b] : fresh;
        std::vector<Ct> tg;
        for (std::size_t g = 0; g < giants; ++g) {
            std::vector<std::pair<const Ct*, const Ct*>> terms;
            for (std::size_t a = 0; a < k; ++a) terms.emplace_back(a == 0 ? &bd.x[b] : &xr[a - 1], &M[a + k * g]);
            tg.push_back(bk_.mul_sum_lazy(terms));
        }
        // The gradient multiplies the same rotations of X at its own level: kept there.
        if (keep && !cached)
            for (Ct& x : fresh) (*keep)[b].push_back(bk_.drop(x, keep_level_));
        return tg;
    };
    // Unit p (blocks p and p + H): T = Σ_g rot(T_g, k·g), reduced, masked, moved to offset p·2c'.
    auto unit = [&](std::size_t p, std::vector<Ct>& t1, std::vector<Ct>* t2) {
        Ct t;
        for (std::size_t g = 0; g < giants; ++g) {
            Ct z = bk_.relin_rescale(t2 ? bk_.add_times_i(t1[g], (*t2)[g]) : std::move(t1[g]));
            t = g == 0 ? std::move(z) : bk_.add(std::move(t), bk_.rotate(z, static_cast<long>(k * g)));
        }
        t1.clear();
        if (t2) t2->clear();
        // Columns k + t·c' summed into column k: slot r·s1 + k = logit of class (r + k) mod c'.
        const Ct r = bk_.rotate_and_sum(t, sh_.s1 / sh_.cpad, static_cast<long>(sh_.cpad));
        Ct m = bk_.mul_mask(r, paired ? logit_half_mask_ : logit_mask_);
        if (p > 0) m = bk_.rotate(m, -static_cast<long>(p * sh_.window()));
        return m;
    };
    // As many units at once as the pool has threads, summed in unit order.
    const bool par = bk_.parallel_blocks();
    const std::size_t W = par ? std::max<std::size_t>(ThreadPool::global().size(), 1) : 1;
    Ct acc;
    for (std::size_t p0 = 0; p0 < H; p0 += W) {
        const std::size_t nu = std::min(W, H - p0);
        std::vector<std::size_t> blocks;
        for (std::size_t j = 0; j < nu; ++j) {
            blocks.push_back(p0 + j);
            if (p0 + j + H < B) blocks.push_back(p0 + j + H);
        }
        std::vector<std::vector<Ct>> T(blocks.size());
        for_each_block(par, blocks.size(), [&](std::size_t j) { T[j] = products(blocks[j]); });
        std::vector<Ct> part(nu);
        for_each_block(par, nu, [&](std::size_t j) {
            std::size_t i1 = 0;
            while (blocks[i1] != p0 + j) ++i1;
            const bool two = i1 + 1 < blocks.size() && blocks[i1 + 1] == p0 + j + H;
            part[j] = unit(p0 + j, T[i1], two ? &T[i1 + 1] : nullptr);
        });
        for (std::size_t j = 0; j < nu; ++j) acc = p0 + j == 0 ? std::move(part[j]) : bk_.add(std::move(acc), part[j]);
    }
    if (paired) {
        // Real parts: blocks p at offset p·2c'; imaginary parts: blocks p + H, moved there.
        auto [re, im] = bk_.split_complex(acc);
        acc = bk_.add(re, bk_.rotate(im, -static_cast<long>(H * sh_.window())));
    }
    bk_.set_stage(Stage::Softmax);
    return bk_.add_mask(acc, pad_const_);
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::forward(const Ct& vh, const BatchData<BK>& bd) {
    return forward(vh, bd, nullptr);
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::forward(const Ct& vh, const BatchData<BK>& bd, std::vector<std::vector<Ct>>* keep) {
    const long cp = static_cast<long>(sh_.cpad);
    const Ct t = logits(vh, bd, keep);
    const Ct td = bk_.add(t, bk_.rotate(t, -cp));
    const Ct E = bk_.poly(td, sp_.exp_p);
    const Ct S = bk_.add_const(bk_.rotate_and_sum(E, sh_.cpad, 1), sp_.beta_g);
    const Ct G = bk_.poly(S, sp_.coarse_p);
    const Ct Em = bk_.mul_mask(E, half_mask_);
    Ct y = bk_.mul(Em, G);
    bk_.set_stage(Stage::Bootstrap);
    y = bk_.boot_full(y);
    bk_.set_stage(Stage::Softmax);
    const Ct yd = bk_.add(y, bk_.rotate(y, -cp));
    const Ct q = bk_.mul(yd, yd);
    const Ct Q = bk_.rotate_and_sum(q, sh_.cpad, 1);
    const Ct I1 = bk_.poly(Q, sp_.inv1_p);
    const Ct qm = bk_.mul_mask(q, half_mask_);
    const Ct z = bk_.mul(qm, I1);
    const Ct zd = bk_.add(z, bk_.rotate(z, -cp));
    const Ct q2 = bk_.mul(zd, zd);
    const Ct Q2 = bk_.rotate_and_sum(q2, sh_.cpad, 1);
    const Ct I2 = bk_.poly(Q2, sp_.inv2_p);
    Ct P = bk_.mul(q2, I2);
    record_ranges(t, S, &Q, &Q2, bd);
    return P;
}

template <class BK>
void Engine<BK>::step(Ct& w, Ct& v, const BatchData<BK>& bd, double lr, double gamma) {
    update(w, v, gradient(v, bd, lr / static_cast<double>(bd.total_rows)), gamma);
}

template <class BK>
void Engine<BK>::step(Ct& w, Ct& v, const std::vector<const BatchData<BK>*>& groups, double lr, double gamma) {
    std::size_t rows = 0;
    for (const BatchData<BK>* g : groups) rows += g->total_rows;
    if (groups.empty() || rows == 0) throw std::invalid_argument("Engine::step: a step without rows");
    const double scale = lr / static_cast<double>(rows);
    Ct g = gradient(v, *groups[0], scale);
    for (std::size_t k = 1; k < groups.size(); ++k) g = bk_.add(std::move(g), gradient(v, *groups[k], scale));
    update(w, v, g, gamma);
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::gradient(const Ct& v, const BatchData<BK>& bd, double scale) {
    std::vector<std::vector<Ct>> kept;  // rot(x_b, a), 0 < a < k, at the level of E (from the logits)
    const Ct P = forward(v, bd, &kept);
    bk_.set_stage(Stage::MatMul);
    const Ct D = bk_.sub(P, bd.y);
    const long s1 = static_cast<long>(sh_.s1), cp = static_cast<long>(sh_.cpad);
    const std::size_t k = baby_, giants = sh_.cpad / baby_;
    std::vector<long> giant_steps;
    for (std::size_t g = 1; g < giants; ++g) giant_steps.push_back(-static_cast<long>(k * g));
    // Per block: E_b and its giant-step rotations F_{b,g} = rot(E_b, −k·g); x_{b,a} = rot(x_b, a).
    std::vector<std::vector<Ct>> F(sh_.blocks), xs(sh_.blocks);
    std::vector<const Mask*> gmask(sh_.blocks, nullptr);  // built here: the blocks below may run at once
    for (std::size_t b = 0; b < sh_.blocks; ++b)
        if (bd.rows_valid[b] > 0) gmask[b] = &grad_mask(bd.rows_valid[b], scale);
    for_each_block(bk_.parallel_blocks(), sh_.blocks, [&](std::size_t b) {
        if (bd.rows_valid[b] == 0) return;
        // Block b's offsets b·2c' + i brought to i, masked, replicated with period c' along
        // the row: E[r·s1 + j] = D[r][(r + j) mod c'].
        const Ct Db = b == 0 ? D : bk_.rotate(D, static_cast<long>(b * sh_.window()));
        const Ct Dm = bk_.mul_mask(Db, *gmask[b]);
        Ct E = bk_.rotate_and_sum(Dm, sh_.s1 / sh_.cpad, -cp);
        const std::size_t le = bk_.level(E);
        std::vector<Ct> fb = giant_steps.empty() ? std::vector<Ct>{} : bk_.rotate_hoisted(E, giant_steps);
        fb.insert(fb.begin(), std::move(E));
        F[b] = std::move(fb);
        std::vector<Ct> xb{bk_.drop(bd.x[b], le)};
        const bool have = b < kept.size() && kept[b].size() == k - 1;
        for (std::size_t a = 1; a < k; ++a)  // the kept rotations are at this level already: moved, not copied
            xb.push_back(have && bk_.level(kept[b][a - 1]) == le ? std::move(kept[b][a - 1])
                                                                 : bk_.drop(have ? kept[b][a - 1] : bd.xrot.at(b)[a - 1], le));
        xs[b] = std::move(xb);
    });
    kept.clear();
    // Q_{a + k·g} = Σ_b x_b ⊙ rot(E_b, −a − k·g) = rot(Σ_b rot(x_b, a) ⊙ F_{b,g}, −a): one
    // relinearization per (a, g) for all blocks, then a rotation (a > 0) at the lower level.
    std::vector<Ct> Q(sh_.cpad);
    for_each_block(bk_.parallel_blocks(), sh_.cpad, [&](std::size_t i) {
        const std::size_t a = i % k;
        std::vector<std::pair<const Ct*, const Ct*>> terms;
        for (std::size_t b = 0; b < sh_.blocks; ++b)
            if (!F[b].empty()) terms.emplace_back(&xs[b][a], &F[b][i / k]);
        Ct q = bk_.relin_rescale(bk_.mul_sum_lazy(terms));
        Q[i] = a == 0 ? std::move(q) : bk_.rotate(q, -static_cast<long>(a));
    });
    F.clear();
    xs.clear();
    // A_u = Σ_k colmask_k ⊙ Q_{(k + u) mod c'}, then rows r' + u brought to r'.
    Ct S;
    std::vector<const Ct*> by_residue(sh_.cpad);
    for (std::size_t u = 0; u < sh_.cpad; ++u) {
        for (std::size_t c = 0; c < sh_.cpad; ++c) by_residue[c] = &Q[(c + u) % sh_.cpad];
        Ct a = select_columns(by_residue);
        if (u > 0) a = bk_.rotate(a, static_cast<long>(u) * s1);
        S = u == 0 ? std::move(a) : bk_.add(std::move(S), a);
    }
    // Rows r ≡ k (mod c') hold class k: summing row groups gives the tiled gradient.
    Ct g = bk_.rotate_and_sum(S, sh_.s0 / sh_.cpad, static_cast<long>(sh_.cpad) * s1);
    bk_.set_stage(Stage::Other);
    return g;
}

template <class BK>
void Engine<BK>::update(Ct& w, Ct& v, const Ct& g, double gamma) {
    bk_.set_stage(Stage::Update);
    Ct wn = bk_.sub(v, g);
    bk_.set_stage(Stage::Bootstrap);
    wn = bk_.boot_sparse(wn);
    bk_.set_stage(Stage::Update);
    // The look-ahead keeps only the head's slots: the bootstrap's noise in the others (padding,
    // pad classes) would otherwise be carried and amplified by the momentum from step to step
    // (measured: 1.6e-3 after 59 steps at HETAL's size, above what the client accepts there);
    // with the mask it is one bootstrap's noise at most. The same level as the constants alone.
    Ct vn = bk_.sub(bk_.mul_mask_const(wn, head_mask_, 1 + gamma), bk_.mul_mask_const(w, head_mask_, gamma));
    w = std::move(wn);
    v = std::move(vn);
    bk_.set_stage(Stage::Other);
}

template <class BK>
typename Engine<BK>::Ct Engine<BK>::true_class_prob(const Ct& vh, const BatchData<BK>& bd) {
    const Ct P = forward(vh, bd);
    bk_.set_stage(Stage::Softmax);
    const Ct py = bk_.mul(P, bd.y);
    Ct r = bk_.rotate_and_sum(py, sh_.cpad, 1);
    bk_.set_stage(Stage::Other);
    return r;
}

OpCounts dry_run_step(const EncShape& sh, const SoftmaxPolys& sp, std::vector<long>& rotation_steps) {
    TwinBackend tb(sh.slots, sh.tile_slots());
    Engine<TwinBackend> e(sh, sp, tb);
    BatchData<TwinBackend> bd;
    bd.x.assign(sh.blocks, std::vector<double>(sh.slots, 0.0));
    bd.y.assign(sh.slots, 0.0);
    bd.rows_valid.assign(sh.blocks, sh.s0);
    bd.total_rows = sh.blocks * sh.s0;
    std::vector<double> w(sh.slots, 0.0), v = w;
    tb.counts = OpCounts{};
    e.step(w, v, bd, 1.0, 0.5);
    rotation_steps.assign(tb.rotation_steps().begin(), tb.rotation_steps().end());
    return tb.counts;
}

std::map<long, std::size_t> rotation_levels(const EncShape& sh, const SoftmaxPolys& sp, const LevelPlan& lp,
                                            std::map<long, std::size_t>* uses) {
    LevelBackend lb(sh.slots, lp.L);
    Engine<LevelBackend> e(sh, sp, lb);
    BatchData<LevelBackend> bd;
    bd.x.assign(sh.blocks, LevelBackend::Ct{lp.x_level});
    bd.y = LevelBackend::Ct{lp.y_label_level};
    bd.rows_valid.assign(sh.blocks, sh.s0);
    bd.total_rows = sh.blocks * sh.s0;
    LevelBackend::Ct w{lp.L}, v{lp.L};
    e.step(w, v, bd, 1.0, 0.5);
    if (uses) *uses = lb.step_uses();
    e.logits(LevelBackend::Ct{lp.L}, bd);  // validation and inference (covered by the step; kept explicit)
    return lb.step_levels();
}

template class Engine<TwinBackend>;
template class Engine<LevelBackend>;
template class Engine<CkksBackend>;

}  // namespace bt::train
