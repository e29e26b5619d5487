// Client and server roles with files between them (see bt/train/roles.hpp).
//
// ---------------------------------------------------------------- releasing the head
// A CKKS decryption m' = c0 + c1·s (mod q) shared together with its ciphertext reveals
// s: c1·s = m' − c0 is a linear system (Li–Micciancio, EUROCRYPT 2021). `decrypt`
// therefore floods by default: independent Gaussian noise of standard deviation σ_f is
// added to the real and imaginary part of every slot of the decryption. The canonical
// embedding of the power-of-two cyclotomic ring is a scaled isometry, so this is the
// same as adding continuous Gaussian noise of standard deviation σ_f·Δ·sqrt(2/N) to every
// coefficient of m' (Δ the scale). What a holder of the ciphertext and the released head
// then learns about s is c1·s + f with f that flooding noise: a ring-LWE sample whose
// error is ~2^(log2 σ_f − log2 σ_e) times the ciphertext's own noise σ_e (measured from
// the imaginary parts, which carry noise only), instead of an exact linear equation.
//
// Level used by default: σ_f = 2^-6 per slot. Measured on the default task (N = 2^16): the
// bootstrapped head's noise is σ_e ≈ 2^-19.2 per slot, so the flooding is ~2^13 above it;
// averaging the 32 copies of every weight leaves 2^-8.5 ≈ 2.8e-3 per released weight, and
// the test accuracy was 0.8828 flooded vs 0.8832 unflooded (0.8822 even at 2^-4). It is
// NOT the statistical flooding of Li–Micciancio–Schultz–Sorrell (2022) that makes
// IND-CPA-D hold with s bits of statistical security: that needs σ_f ≳
// sqrt(24·N)·2^(s/2)·B_e ≈ 2^(10.3 + s/2)·B_e, i.e. for s = 30 about 2^25 times the noise
// bound (σ_f ≈ 2^7 per slot here), which would bury the weights (of order 1) in noise.
// `--flood-sigma` sets any other level; `--no-flooding` is
// for a client that never shares the head.
#include "bt/train/roles.hpp"

#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/cpu.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/nn/vit.hpp"
#include "bt/random.hpp"
#include "bt/threadpool.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace bt::train {

namespace {

using ckks::CiphertextBundle;
using clk = std::chrono::steady_clock;
double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

// ---------------------------------------------------------------- files
std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

std::size_t file_size(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

void make_dir(const std::string& dir) {
    // Parents first (like mkdir -p).
    for (std::size_t p = dir.find('/', 1); p != std::string::npos; p = dir.find('/', p + 1))
        if (::mkdir(dir.substr(0, p).c_str(), 0700) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create directory " + dir.substr(0, p) + ": " + std::strerror(errno));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create directory " + dir + ": " + std::strerror(errno));
}

std::vector<std::uint8_t> read_required(const std::string& path, const std::string& what, const std::string& hint) {
    if (!exists(path)) throw std::runtime_error(what + " " + path + " not found: " + hint);
    return ckks::read_file(path);
}

std::string hex64(std::uint64_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

std::uint64_t random_id() {
    const Seed s = os_random_seed();
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | s[static_cast<std::size_t>(i)];
    return v;
}

template <class T>
std::string join_list(const std::vector<T>& v, bool exact_double = false) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) s += ",";
        if constexpr (std::is_floating_point<T>::value) {
            s += exact_double ? CiphertextBundle::f64(static_cast<double>(v[i])) : std::to_string(v[i]);
        } else {
            s += std::to_string(v[i]);
        }
    }
    return s;
}

std::vector<double> parse_doubles(const std::string& s, const std::string& what) {
    std::vector<double> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        char* end = nullptr;
        const double x = std::strtod(item.c_str(), &end);
        if (item.empty() || *end) throw std::runtime_error(what + ": '" + item + "' is not a number: the file is corrupt");
        out.push_back(x);
    }
    return out;
}

std::vector<long> parse_longs(const std::string& s, const std::string& what) {
    std::vector<long> out;
    for (double x : parse_doubles(s, what)) out.push_back(static_cast<long>(x));
    return out;
}

// ---------------------------------------------------------------- the job
struct Job {
    std::uint64_t id = 0;
    std::string preset, model;
    std::vector<int> labels;
    std::size_t d = 0, batch = 0, epochs = 0, L = 0;
    double lr = 0;
    SoftmaxConfig softmax;

    CiphertextBundle bundle() const {
        CiphertextBundle b;
        b.set("kind", "job");
        b.set("job_id", hex64(id));
        b.set("packing_layout", std::to_string(kPackingLayout));
        b.set("preset", preset);
        b.set("model", model);
        b.set("classes", join_list(labels));
        b.set("d", std::to_string(d));
        b.set("batch", std::to_string(batch));
        b.set("epochs", std::to_string(epochs));
        b.set("lr", CiphertextBundle::f64(lr));
        b.set("levels_after_bootstrap", std::to_string(L));
        b.set("logit_bound", CiphertextBundle::f64(softmax.V));
        b.set("exp_degree", std::to_string(softmax.exp_degree));
        b.set("coarse_degree", std::to_string(softmax.coarse_degree));
        b.set("inv1_degree", std::to_string(softmax.inv1_degree));
        b.set("inv2_degree", std::to_string(softmax.inv2_degree));
        b.set("bootstrapping", "CKKS, recommended full-slot configuration");
        return b;
    }
    static Job from(const CiphertextBundle& b, const std::string& path) {
        if (!b.has("kind") || b.get("kind") != "job")
            throw std::runtime_error(path + " is not a job file (kind '" + (b.has("kind") ? b.get("kind") : "") + "')");
        const std::string layout = b.has("packing_layout") ? b.get("packing_layout") : "1";
        if (layout != std::to_string(kPackingLayout))
            throw std::runtime_error(path + ": the client packed this job's data with layout " + layout +
                                     ", this build uses layout " + std::to_string(kPackingLayout) +
                                     ": client and server must run the same BlindTuner version (re-run keygen and "
                                     "encrypt with this one)");
        Job j;
        j.id = std::strtoull(b.get("job_id").c_str(), nullptr, 16);
        j.preset = b.get("preset");
        j.model = b.get("model");
        for (long c : parse_longs(b.get("classes"), path)) j.labels.push_back(static_cast<int>(c));
        j.d = b.get_u64("d");
        j.batch = b.get_u64("batch");
        j.epochs = b.get_u64("epochs");
        j.lr = b.get_f64("lr");
        j.L = b.get_u64("levels_after_bootstrap");
        j.softmax.V = b.get_f64("logit_bound");
        j.softmax.exp_degree = static_cast<int>(b.get_u64("exp_degree"));
        j.softmax.coarse_degree = static_cast<int>(b.get_u64("coarse_degree"));
        j.softmax.inv1_degree = static_cast<int>(b.get_u64("inv1_degree"));
        j.softmax.inv2_degree = static_cast<int>(b.get_u64("inv2_degree"));
        if (j.labels.size() < 2 || j.d == 0 || j.batch == 0)
            throw std::runtime_error(path + ": implausible job (classes, width or batch): the file is corrupt");
        return j;
    }
    int classes() const { return static_cast<int>(labels.size()); }
};

ckks::ParamsPtr load_params(const std::string& dir, const std::string& hint) {
    return ckks::deserialize_params(read_required(join(dir, "params.bin"), "CKKS parameters", hint));
}

Job load_job(const ckks::Params& P, const std::string& dir, const std::string& hint) {
    const std::string path = join(dir, "job.bin");
    return Job::from(ckks::deserialize_bundle(P, read_required(path, "job file", hint)), path);
}

// Every ciphertext bundle the roles exchange names its kind and job.
CiphertextBundle load_bundle(const ckks::Params& P, const std::string& path, const std::string& kind, const Job& job,
                             const std::string& hint) {
    CiphertextBundle b = ckks::deserialize_bundle(P, read_required(path, kind, hint));
    if (!b.has("kind") || b.get("kind") != kind)
        throw std::runtime_error(path + ": holds a '" + (b.has("kind") ? b.get("kind") : std::string("?")) +
                                 "', expected a '" + kind + "': check which file was given");
    if (b.get("job_id") != hex64(job.id))
        throw std::runtime_error(path + ": made for job " + b.get("job_id") + ", these keys are for job " +
                                 hex64(job.id) + ": use the files of one keygen together (re-run encrypt with these keys)");
    return b;
}

struct Plan {
    EncShape sh;
    SoftmaxPolys sp;
    LevelPlan lp;
    std::vector<long> steps;
    OpCounts per_step;
};

Plan make_plan(const ckks::Params& P, const Job& job) {
    Plan p;
    p.sh = EncShape::make(P.max_slots(), job.d, job.classes(), job.batch);
    p.sp = SoftmaxPolys::build(job.softmax, job.classes(), p.sh.cpad);
    p.lp = LevelPlan::make(p.sp, job.L);
    if (!p.lp.feasible) throw std::invalid_argument("level plan not feasible: " + p.lp.problem);
    p.per_step = dry_run_step(p.sh, p.sp, p.steps);
    return p;
}

// ---------------------------------------------------------------- client state
struct ClientState {
    std::string data_dir;
    std::uint64_t seed = 1;
    double gain = 0.5;
    std::size_t train_size = 0, val_size = 0, test_size = 0;
    Normalizer norm;
    std::vector<int> val_labels, test_labels;
    std::uint64_t data_id = 0;

    CiphertextBundle bundle(const Job& job) const {
        CiphertextBundle b;
        b.set("kind", "client-state");
        b.set("job_id", hex64(job.id));
        b.set("data_id", hex64(data_id));
        b.set("data", data_dir);
        b.set("seed", std::to_string(seed));
        b.set("gain", CiphertextBundle::f64(gain));
        b.set("train", std::to_string(train_size));
        b.set("val", std::to_string(val_size));
        b.set("test", std::to_string(test_size));
        b.set("norm_mean", join_list(norm.mean, true));
        b.set("norm_inv_std", join_list(norm.inv_std, true));
        b.set("val_labels", join_list(val_labels));
        b.set("test_labels", join_list(test_labels));
        return b;
    }
    static ClientState from(const CiphertextBundle& b, const std::string& path) {
        ClientState s;
        s.data_dir = b.get("data");
        s.data_id = std::strtoull(b.get("data_id").c_str(), nullptr, 16);
        s.seed = b.get_u64("seed");
        s.gain = b.get_f64("gain");
        s.train_size = b.get_u64("train");
        s.val_size = b.get_u64("val");
        s.test_size = b.get_u64("test");
        s.norm.gain = s.gain;
        s.norm.mean = parse_doubles(b.get("norm_mean"), path);
        s.norm.inv_std = parse_doubles(b.get("norm_inv_std"), path);
        for (long v : parse_longs(b.get("val_labels"), path)) s.val_labels.push_back(static_cast<int>(v));
        for (long v : parse_longs(b.get("test_labels"), path)) s.test_labels.push_back(static_cast<int>(v));
        return s;
    }
};

const char* kClientHint = "run `bt_train keygen` (and `bt_train encrypt`) first, or pass --client DIR";
const char* kServerHint = "the client's `bt_train keygen` and `bt_train encrypt` write the server directory; pass --server DIR";

struct ClientCtx {
    ckks::ParamsPtr P;
    Job job;
    ckks::SecretKey sk;
};

ClientCtx load_client(const std::string& dir) {
    ClientCtx c;
    c.P = load_params(dir, kClientHint);
    c.job = load_job(*c.P, dir, kClientHint);
    c.sk = ckks::deserialize_secret_key(*c.P, read_required(join(dir, "secret.key"), "secret key", kClientHint));
    return c;
}

ClientState load_state(const ClientCtx& c, const std::string& dir) {
    const std::string path = join(dir, "client.bin");
    return ClientState::from(load_bundle(*c.P, path, "client-state", c.job, "run `bt_train encrypt` first"), path);
}

// Client side: decrypts a bundle of merged per-batch results (probabilities or logits)
// and scores them against `labels`.
void score_bundle(const ckks::ParamsPtr& P, const ckks::SecretKey& sk, const Plan& plan, const CiphertextBundle& b,
                  const std::string& path, const std::vector<int>& labels, double& loss, std::size_t& correct) {
    const ckks::Encoder enc(P);
    const ckks::Decryptor dec(P, sk);
    Features f;
    f.label = labels;
    f.rows = labels.size();
    const auto batches = make_batches(f.rows, plan.sh.blocks * plan.sh.s0);
    if (b.cts.size() != batches.size())
        throw std::runtime_error(path + ": " + std::to_string(b.cts.size()) + " batches, expected " +
                                 std::to_string(batches.size()) + " for " + std::to_string(f.rows) + " rows");
    for (std::size_t k = 0; k < batches.size(); ++k) {
        const auto z = enc.decode(dec.decrypt(b.cts[k]));
        std::vector<double> p(z.size());
        for (std::size_t i = 0; i < z.size(); ++i) p[i] = z[i].real();
        score_batch(plan.sh, p, f, batches[k], loss, correct);
    }
}

// A data set as written by `encrypt`: per batch, `blocks` X ciphertexts (and Y for training).
struct EncSet {
    std::vector<BatchData<CkksBackend>> batches;
    std::vector<std::size_t> rows;  // per batch
    std::uint64_t data_id = 0;
};

EncSet load_set(const ckks::Params& P, const std::string& path, const std::string& kind, const Job& job,
                const Plan& plan, bool with_labels) {
    const CiphertextBundle b = load_bundle(P, path, kind, job, kServerHint);
    const EncShape& sh = plan.sh;
    auto expect = [&](const char* key, std::size_t v) {
        if (b.get_u64(key) != v)
            throw std::runtime_error(path + ": " + key + " is " + b.get(key) + ", the keys were planned for " +
                                     std::to_string(v) + ": the data set's shape differs from the plan; re-run "
                                     "keygen for this shape or encrypt with the planned one");
    };
    expect("d", sh.d);
    expect("classes", static_cast<std::size_t>(sh.c));
    expect("slots", sh.slots);
    expect("blocks", sh.blocks);
    EncSet s;
    s.data_id = std::strtoull(b.get("data_id").c_str(), nullptr, 16);
    const std::size_t nb = b.get_u64("batches");
    const std::size_t per = sh.blocks + (with_labels ? 1 : 0);
    if (b.cts.size() != nb * per)
        throw std::runtime_error(path + ": " + std::to_string(b.cts.size()) + " ciphertexts, expected " +
                                 std::to_string(nb * per) + " for " + std::to_string(nb) + " batches: the file is corrupt");
    for (std::size_t k = 0; k < nb; ++k) {
        const std::size_t rows = b.get_u64("rows_" + std::to_string(k));
        if (rows == 0 || rows > sh.blocks * sh.s0)
            throw std::runtime_error(path + ": batch " + std::to_string(k) + " has " + std::to_string(rows) +
                                     " rows, the plan allows 1.." + std::to_string(sh.blocks * sh.s0));
        BatchData<CkksBackend> bd;
        for (std::size_t j = 0; j < sh.blocks; ++j) {
            const ckks::Ciphertext& ct = b.cts[k * per + j];
            if (ct.level != plan.lp.x_level || ct.slots != sh.slots)
                throw std::runtime_error(path + ": a feature ciphertext at level " + std::to_string(ct.level) +
                                         " with " + std::to_string(ct.slots) + " slots; the plan needs level " +
                                         std::to_string(plan.lp.x_level) + " and " + std::to_string(sh.slots));
            bd.x.push_back(ct);
        }
        if (with_labels) {
            bd.y = b.cts[k * per + sh.blocks];
            if (bd.y.level != plan.lp.y_label_level)
                throw std::runtime_error(path + ": a label ciphertext at level " + std::to_string(bd.y.level) +
                                         ", the plan needs " + std::to_string(plan.lp.y_label_level));
        }
        bd.rows_valid = rows_valid(sh, rows);
        bd.total_rows = rows;
        s.batches.push_back(std::move(bd));
        s.rows.push_back(rows);
    }
    return s;
}

// The checks a server makes on its inputs before it computes anything.
struct ServerCtx {
    ckks::ParamsPtr P;
    Job job;
    Plan plan;
    ckks::RelinKey rk;
    ckks::GaloisKeys gk;
};

ServerCtx load_server_common(const std::string& dir) {
    check_no_secret_key(dir);
    ServerCtx s;
    s.P = load_params(dir, kServerHint);
    s.job = load_job(*s.P, dir, kServerHint);
    s.plan = make_plan(*s.P, s.job);
    s.rk = ckks::deserialize_relin_key(*s.P, read_required(join(dir, "relin.key"), "relinearization key", kServerHint));
    s.gk = ckks::deserialize_galois_keys(*s.P,
                                         read_required(join(dir, "galois-train.key"), "training rotation keys", kServerHint));
    const ckks::Encoder enc(s.P);
    for (long st : s.plan.steps) {
        const std::uint64_t g = enc.galois_element(st);
        if (!s.gk.has(g))
            throw std::runtime_error(join(dir, "galois-train.key") + ": no key for rotation step " + std::to_string(st) +
                                     " (Galois element " + std::to_string(g) +
                                     "), which the training plan needs: the bundle is incomplete or made for "
                                     "another shape; re-run `bt_train keygen`");
        if (s.gk.keys.at(g).max_level < s.plan.lp.L)
            throw std::runtime_error(join(dir, "galois-train.key") + ": the key for rotation step " + std::to_string(st) +
                                     " serves levels up to " + std::to_string(s.gk.keys.at(g).max_level) +
                                     ", the plan rotates at level " + std::to_string(s.plan.lp.L) + ": re-run keygen");
    }
    return s;
}

ckks::Ciphertext zero_ciphertext(const ckks::Params& P, std::size_t level) {
    // The initial head W = V = 0 is public: a trivial encryption (c0, c1) = (0, 0).
    ckks::Ciphertext ct;
    ct.fingerprint = P.fingerprint();
    ct.level = level;
    ct.scale = P.nominal_scale(level);
    ct.slots = P.max_slots();
    ct.parts.assign(2, ckks::Poly(P.N(), level + 1, true));
    return ct;
}

// ---------------------------------------------------------------- checkpoints
struct TrainState {
    std::size_t step = 0, epoch = 1, next_batch = 0, bootstraps = 0;
    bool stopped = false, finished = false;
    double lambda = 0;
    ckks::Ciphertext w, v;
};

std::string ckpt_name(std::size_t step) {
    char b[40];
    std::snprintf(b, sizeof b, "ckpt-%08zu.bin", step);
    return b;
}

std::vector<std::size_t> list_checkpoints(const std::string& dir) {
    std::vector<std::size_t> steps;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return steps;
    while (dirent* e = ::readdir(d)) {
        std::size_t s = 0;
        char tail[8] = {0};
        // Only complete files: "ckpt-<8 digits>.bin" exactly (a write in progress is ".bin.tmp").
        if (std::strlen(e->d_name) == 17 && std::sscanf(e->d_name, "ckpt-%8zu.%3s", &s, tail) == 2 &&
            std::strcmp(tail, "bin") == 0)
            steps.push_back(s);
    }
    ::closedir(d);
    std::sort(steps.rbegin(), steps.rend());
    return steps;
}

void write_checkpoint(const ckks::Params& P, const std::string& dir, const Job& job, std::uint64_t data_id,
                      const TrainState& st) {
    CiphertextBundle b;
    b.set("kind", "checkpoint");
    b.set("job_id", hex64(job.id));
    b.set("data_id", hex64(data_id));
    b.set("step", std::to_string(st.step));
    b.set("epoch", std::to_string(st.epoch));
    b.set("next_batch", std::to_string(st.next_batch));
    b.set("bootstraps", std::to_string(st.bootstraps));
    b.set("stopped", st.stopped ? "1" : "0");
    b.set("finished", st.finished ? "1" : "0");
    b.set("lambda", CiphertextBundle::f64(st.lambda));
    b.add(st.w);
    b.add(st.v);
    make_dir(dir);
    const std::vector<std::uint8_t> bytes = ckks::serialize(P, b);
    if (const char* e = std::getenv("BT_TEST_CRASH_IN_CHECKPOINT"); e && std::strtoull(e, nullptr, 10) == st.step) {
        // Test hook (kill-and-resume test): die half-way through writing the temporary file.
        std::ofstream f(join(dir, ckpt_name(st.step)) + ".tmp", std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size() / 2));
        f.flush();
        std::raise(SIGKILL);
    }
    ckks::write_file_atomic(join(dir, ckpt_name(st.step)), bytes);
    // Keep the two newest complete checkpoints.
    const auto all = list_checkpoints(dir);
    for (std::size_t i = 2; i < all.size(); ++i) std::remove(join(dir, ckpt_name(all[i])).c_str());
}

bool read_checkpoint(const ckks::Params& P, const std::string& dir, const Job& job, std::uint64_t data_id,
                     TrainState& st, std::ostream& log) {
    for (std::size_t s : list_checkpoints(dir)) {
        const std::string path = join(dir, ckpt_name(s));
        try {
            const CiphertextBundle b = load_bundle(P, path, "checkpoint", job, "");
            if (b.get("data_id") != hex64(data_id))
                throw std::runtime_error("made for another encrypted data set (data id " + b.get("data_id") +
                                         "): the training set was re-encrypted; start without --resume");
            if (b.cts.size() != 2) throw std::runtime_error("expected 2 ciphertexts");
            st.step = b.get_u64("step");
            st.epoch = b.get_u64("epoch");
            st.next_batch = b.get_u64("next_batch");
            st.bootstraps = b.get_u64("bootstraps");
            st.stopped = b.get("stopped") == "1";
            st.finished = b.get("finished") == "1";
            st.lambda = b.get_f64("lambda");
            st.w = b.cts[0];
            st.v = b.cts[1];
            log << "resuming from " << path << " (step " << st.step << ", epoch " << st.epoch << ")\n";
            return true;
        } catch (const std::runtime_error& e) {
            if (std::string(e.what()).find("another encrypted data set") != std::string::npos) throw;
            log << "skipping unreadable checkpoint " << path << ": " << e.what() << "\n";
        }
    }
    return false;
}

// Waits for `path` (polling); false on timeout or if `alt` appears first.
bool wait_for(const std::string& path, double timeout, const std::string& alt = "") {
    const auto t0 = clk::now();
    while (!exists(path)) {
        if (!alt.empty() && exists(alt)) return false;
        if (since(t0) > timeout) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

void write_text_atomic(const std::string& path, const std::string& text) {
    ckks::write_file_atomic(path, std::vector<std::uint8_t>(text.begin(), text.end()));
}

}  // namespace

// ================================================================ server-side guard

void check_no_secret_key(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::string found;
    while (dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const std::string path = join(dir, name);
        struct stat st;
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (name == "secret.key") {
            found = path;
            break;
        }
        std::ifstream f(path, std::ios::binary);
        std::vector<std::uint8_t> h(ckks::kHeaderBytes);
        if (!f.read(reinterpret_cast<char*>(h.data()), static_cast<std::streamsize>(h.size()))) continue;
        if (std::memcmp(h.data(), "BTHE", 4) == 0 &&
            (h[6] | (h[7] << 8)) == static_cast<int>(ckks::ObjectType::SecretKey)) {
            found = path;
            break;
        }
    }
    ::closedir(d);
    if (!found.empty())
        throw std::runtime_error("found a secret key among the server's inputs (" + found +
                                 "): the server must never hold the secret key; move it back to the client and "
                                 "give the server only the bundle written by `bt_train keygen`");
}

// ================================================================ keygen (client)

void role_keygen(const RunConfig& cfg, const RoleDirs& dirs, bool allow_insecure, std::ostream& log) {
    const auto t0 = clk::now();
    const std::string preset_name =
        cfg.params ? cfg.params->name : (cfg.preset.empty() ? default_training_preset() : cfg.preset);
    const ckks::ParamsPtr P = cfg.params ? ckks::Params::create(*cfg.params) : ckks::preset(preset_name);
    if (P->literal().insecure && !allow_insecure)
        throw std::invalid_argument("CKKS preset " + preset_name +
                                    " is INSECURE (test parameters): pass --allow-insecure to use it anyway (tests only)");
    const nn::ViT model = nn::load_vit(cfg.model);
    Job job;
    job.id = random_id();
    job.preset = preset_name;
    job.model = cfg.model;
    job.labels = cfg.classes;
    job.d = model.config.width;
    job.batch = cfg.batch;
    job.epochs = cfg.epochs;
    job.lr = cfg.lr;
    job.softmax = cfg.softmax;
    ckks::CkksBootstrapper bs(P, ckks::recommended_bootstrap_config(0));
    job.L = bs.output_level();
    const Plan plan = make_plan(*P, job);
    log << "CKKS preset " << preset_name << ": " << P->summary() << "\n"
        << "shape: " << plan.sh.describe() << "\n"
        << plan.lp.describe() << "\n"
        << "per step: " << plan.per_step.describe() << "; " << plan.steps.size() << " rotation keys for training\n"
        << "bootstrapping: " << bs.describe() << "\n";
    make_dir(dirs.client);
    make_dir(dirs.server);
    ckks::KeyGenerator kg(P);
    const ckks::SecretKey sk = kg.secret_key();
    ckks::write_file_atomic(join(dirs.client, "secret.key"), ckks::serialize(*P, sk), 0600);
    for (const std::string& dir : {dirs.client, dirs.server}) {
        ckks::write_file_atomic(join(dir, "params.bin"), ckks::serialize(*P));
        ckks::write_file_atomic(join(dir, "job.bin"), ckks::serialize(*P, job.bundle()));
    }
    auto report = [&](const std::string& name, std::size_t keys, std::size_t mem) {
        log << "  " << std::left << std::setw(18) << name << std::right << std::setw(5) << keys << " key(s)  "
            << std::setw(10) << mb(file_size(join(dirs.server, name))) << " on disk (" << mb(mem)
            << " in memory)\n";
    };
    log << "server bundle in " << dirs.server << "/ (the secret key stays in " << dirs.client << "/):\n";
    {
        const ckks::RelinKey rk = bs.make_relin_key(kg, sk);
        ckks::write_file_atomic(join(dirs.server, "relin.key"), ckks::serialize(*P, rk));
        report("relin.key", 1, rk.key.size_bytes());
    }
    {
        const ckks::GaloisKeys gk = bs.make_galois_keys(kg, sk);
        ckks::write_file_atomic(join(dirs.server, "galois-boot.key"), ckks::serialize(*P, gk));
        report("galois-boot.key", gk.keys.size(), gk.size_bytes());
    }
    if (bs.encapsulation_ring()) {
        const ckks::EncapsulationKeys ek = bs.make_encapsulation_keys(kg, sk);
        ckks::write_file_atomic(join(dirs.server, "encaps.key"), ckks::serialize(*P, *bs.encapsulation_ring(), ek));
        report("encaps.key", 2, ek.size_bytes());
    }
    {
        const ckks::GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps(plan.steps), plan.lp.L);
        ckks::write_file_atomic(join(dirs.server, "galois-train.key"), ckks::serialize(*P, gk));
        report("galois-train.key", gk.keys.size(), gk.size_bytes());
    }
    log << "keygen: job " << hex64(job.id) << " in " << std::fixed << std::setprecision(1) << since(t0) << " s\n";
}

// ================================================================ encrypt (client)

void role_encrypt(const RunConfig& cfg_in, const RoleDirs& dirs, std::ostream& log) {
    const auto t0 = clk::now();
    const ClientCtx c = load_client(dirs.client);
    RunConfig cfg = cfg_in;
    cfg.model = c.job.model;
    cfg.classes = c.job.labels;
    cfg.batch = c.job.batch;
    const ClientData cd = prepare_client_data(cfg, log);
    if (cd.d != c.job.d)
        throw std::runtime_error("the model gives " + std::to_string(cd.d) + " features, the keys were planned for " +
                                 std::to_string(c.job.d) + ": use the model given to keygen");
    const Plan plan = make_plan(*c.P, c.job);
    const EncShape& sh = plan.sh;
    double spread = 0;
    exact_training(cd.train, make_batches(cd.train.rows, sh.batch), c.job.epochs, c.job.lr, spread);
    check_logit_spread(spread, c.job.softmax.V);
    log << "range pre-check (exact plaintext training): max |z - mean z| = " << std::fixed << std::setprecision(2)
        << spread << " of V = " << c.job.softmax.V << "\n";
    ckks::Encoder enc(c.P);
    ckks::Encryptor encr(c.P, c.sk);
    ClientState st;
    st.data_id = random_id();
    auto encrypt_into = [&](CiphertextBundle& b, const std::vector<double>& v, std::size_t level) {
        Seed seed;
        ckks::Ciphertext ct = encr.encrypt_symmetric_seeded(enc.encode(v, level, c.P->nominal_scale(level)), seed);
        b.add(std::move(ct), seed);
    };
    auto write_set = [&](const std::string& kind, const std::string& name, const Features& F, std::size_t batch,
                         bool labels) {
        CiphertextBundle b;
        b.set("kind", kind);
        b.set("job_id", hex64(c.job.id));
        b.set("data_id", hex64(st.data_id));
        b.set("d", std::to_string(sh.d));
        b.set("classes", std::to_string(sh.c));
        b.set("slots", std::to_string(sh.slots));
        b.set("blocks", std::to_string(sh.blocks));
        const auto batches = make_batches(F.rows, batch);
        b.set("batches", std::to_string(batches.size()));
        for (std::size_t k = 0; k < batches.size(); ++k) {
            b.set("rows_" + std::to_string(k), std::to_string(batches[k].size()));
            for (const auto& v : pack_x(sh, F, batches[k])) encrypt_into(b, v, plan.lp.x_level);
            if (labels) encrypt_into(b, pack_y(sh, F, batches[k]), plan.lp.y_label_level);
        }
        const std::string path = join(dirs.server, name);
        ckks::write_file_atomic(path, ckks::serialize(*c.P, b));
        log << "  " << std::left << std::setw(10) << name << std::right << std::setw(7) << F.rows << " rows  "
            << std::setw(4) << batches.size() << " batch(es)  " << std::setw(10) << mb(file_size(path)) << "\n";
    };
    make_dir(dirs.server);
    log << "encrypted data in " << dirs.server << "/ (features" << " and training labels; seeded ciphertexts):\n";
    write_set("train-set", "train.bin", cd.train, sh.batch, true);
    write_set("val-set", "val.bin", cd.val, sh.blocks * sh.s0, false);
    write_set("test-set", "test.bin", cd.test, sh.blocks * sh.s0, false);
    st.data_dir = cfg.data_dir;
    st.seed = cfg.seed;
    st.gain = cfg.gain;
    st.train_size = cd.train.rows;
    st.val_size = cd.val.rows;
    st.test_size = cd.test.rows;
    st.norm = cd.norm;
    st.val_labels = cd.val.label;
    st.test_labels = cd.test.label;
    ckks::write_file_atomic(join(dirs.client, "client.bin"), ckks::serialize(*c.P, st.bundle(c.job)));
    log << "encrypt: " << std::fixed << std::setprecision(1) << since(t0) << " s\n";
}

// ================================================================ train (server)

void role_train(const TrainOptions& o, std::ostream& log) {
    const auto t0 = clk::now();
    const std::string out = o.out_dir.empty() ? o.server_dir : o.out_dir;
    if (!o.exchange_dir.empty()) check_no_secret_key(o.exchange_dir);
    ServerCtx s = load_server_common(o.server_dir);
    const ckks::Params& P = *s.P;
    const Plan& plan = s.plan;
    const EncShape& sh = plan.sh;
    ckks::CkksBootstrapper bs(s.P, ckks::recommended_bootstrap_config(0));
    if (bs.output_level() != s.job.L)
        throw std::runtime_error("this build bootstraps to level " + std::to_string(bs.output_level()) +
                                 ", the job was planned for " + std::to_string(s.job.L) +
                                 ": client and server must run the same BlindTuner version");
    const ckks::GaloisKeys gk_boot = ckks::deserialize_galois_keys(
        P, read_required(join(o.server_dir, "galois-boot.key"), "bootstrapping rotation keys", kServerHint));
    for (std::uint64_t g : bs.galois_elements())
        if (!gk_boot.has(g))
            throw std::runtime_error(join(o.server_dir, "galois-boot.key") + ": no key for Galois element " +
                                     std::to_string(g) + ", which bootstrapping needs: re-run `bt_train keygen`");
    ckks::EncapsulationKeys ek;
    if (bs.encapsulation_ring())
        ek = ckks::deserialize_encapsulation_keys(
            P, *bs.encapsulation_ring(),
            read_required(join(o.server_dir, "encaps.key"), "encapsulation keys", kServerHint));
    bs.set_keys(&s.rk, &gk_boot, bs.encapsulation_ring() ? &ek : nullptr);
    EncSet train = load_set(P, join(o.server_dir, "train.bin"), "train-set", s.job, plan, true);
    EncSet val = load_set(P, join(o.server_dir, "val.bin"), "val-set", s.job, plan, false);
    if (val.data_id != train.data_id)
        throw std::runtime_error("val.bin and train.bin come from different `encrypt` runs: re-send both");
    const std::size_t epochs = o.epochs ? o.epochs : s.job.epochs;
    log << "server: job " << hex64(s.job.id) << ", " << P.summary().substr(0, P.summary().find('\n')) << "\n"
        << "CPU path " << simd_path_name(simd_path()) << ", threads " << ThreadPool::global().size() << "\n"
        << "shape: " << sh.describe() << "\n"
        << plan.lp.describe() << "\n"
        << "per step: " << plan.per_step.describe() << "\n";

    ckks::Evaluator evl(s.P, &s.rk, &s.gk);
    CkksBackend cb(evl, bs, bs, sh.slots);
    Engine<CkksBackend> eng(sh, plan.sp, cb);
    if (Engine<CkksBackend>::rotations_fit(sh, train.batches.size(), plan.lp.x_level, P.N()))
        for (auto& b : train.batches) eng.prepare(b);

    const std::string ckdir = join(out, "checkpoints");
    TrainState st;
    if (!(o.resume && read_checkpoint(P, ckdir, s.job, train.data_id, st, log))) {
        if (o.resume) log << "no complete checkpoint in " << ckdir << ": starting from the beginning\n";
        st.w = zero_ciphertext(P, plan.lp.L);
        st.v = st.w;
    }
    const std::size_t nb = train.batches.size();
    const std::size_t total = epochs * nb;
    const std::size_t step0 = st.step;
    const auto t_train = clk::now();
    log << "training: " << epochs << " epoch(s) x " << nb << " step(s), batch " << sh.batch << ", lr " << s.job.lr
        << (o.exchange_dir.empty() ? " (no early stopping: no --exchange)" : "") << "\n";
    while (!st.stopped && !st.finished && st.epoch <= epochs) {
        for (; st.next_batch < nb; ++st.next_batch) {
            const auto ts = clk::now();
            NesterovSchedule ns{st.lambda};
            const double gamma = ns.next();
            auto& bd = train.batches[st.next_batch];
            eng.step(st.w, st.v, bd, s.job.lr, gamma);
            st.lambda = ns.lambda;
            ++st.step;
            st.bootstraps += 2;
            const double el = since(t_train), per = el / static_cast<double>(st.step - step0);
            log << "step " << st.step << "/" << total << "  epoch " << st.epoch << "  elapsed " << mmss(el) << "  ETA "
                << mmss(per * static_cast<double>(total - std::min(total, st.step))) << "  bootstraps "
                << st.bootstraps << "  " << std::fixed << std::setprecision(1) << since(ts) << " s/step\n"
                << std::flush;
            if (o.checkpoint_every && st.step % o.checkpoint_every == 0 && st.next_batch + 1 < nb) {
                TrainState c = st;
                ++c.next_batch;
                write_checkpoint(P, ckdir, s.job, train.data_id, c);
            }
        }
        // End of the epoch: validation through the client (only its stop/continue comes back).
        if (!o.exchange_dir.empty() && !val.batches.empty()) {
            const std::string req = join(o.exchange_dir, "val-" + std::to_string(st.epoch) + ".bin");
            const std::string dec = join(o.exchange_dir, "decision-" + std::to_string(st.epoch) + ".txt");
            if (!exists(dec)) {
                CiphertextBundle b;
                b.set("kind", "validation");
                b.set("job_id", hex64(s.job.id));
                b.set("epoch", std::to_string(st.epoch));
                for (const auto& vb : val.batches) b.add(eng.forward(st.w, vb));
                ckks::write_file_atomic(req, ckks::serialize(P, b));
                st.bootstraps += val.batches.size();
                log << "epoch " << st.epoch << ": validation request " << req << ", waiting for the client\n"
                    << std::flush;
                if (!wait_for(dec, o.exchange_timeout))
                    throw std::runtime_error("no answer in " + dec + " after " + std::to_string(o.exchange_timeout) +
                                             " s: run `bt_train validate` on the client; then resume with --resume");
            }
            const std::string answer = read_text(dec);
            if (answer != "continue" && answer != "stop")
                throw std::runtime_error(dec + " holds '" + answer + "', expected exactly 'continue' or 'stop'");
            log << "epoch " << st.epoch << ": client says " << answer << "\n";
            st.stopped = answer == "stop";
        }
        ++st.epoch;
        st.next_batch = 0;
        st.finished = st.epoch > epochs;
        write_checkpoint(P, ckdir, s.job, train.data_id, st);
    }
    cb.set_stage(Stage::Other);
    CiphertextBundle head;
    head.set("kind", "head");
    head.set("job_id", hex64(s.job.id));
    head.set("data_id", hex64(train.data_id));
    head.set("steps", std::to_string(st.step));
    head.add(st.w);
    make_dir(out);
    const std::string head_path = join(out, "head.bin");
    ckks::write_file_atomic(head_path, ckks::serialize(P, head));
    if (!o.exchange_dir.empty()) write_text_atomic(join(o.exchange_dir, "done"), "done\n");
    log << std::fixed << std::setprecision(1) << "train: " << st.step << " steps, encrypted head " << head_path << " ("
        << mb(file_size(head_path)) << "); this run " << since(t0) << " s (matmul " << cb.seconds[0] << ", softmax "
        << cb.seconds[1] << ", bootstrap " << cb.seconds[2] << ", update " << cb.seconds[3] << "), peak memory "
        << mb(peak_rss_bytes()) << "\n";
}

// ================================================================ infer (server)

void role_infer(const std::string& server_dir, const std::string& head_file, const std::string& out_file,
                std::ostream& log) {
    const auto t0 = clk::now();
    ServerCtx s = load_server_common(server_dir);
    const ckks::Params& P = *s.P;
    const CiphertextBundle head = load_bundle(P, head_file, "head", s.job, "run `bt_train train` first");
    if (head.cts.size() != 1) throw std::runtime_error(head_file + ": expected one ciphertext");
    EncSet test = load_set(P, join(server_dir, "test.bin"), "test-set", s.job, s.plan, false);
    ckks::Evaluator evl(s.P, &s.rk, &s.gk);
    // Logits need no bootstrapping: a bootstrapper that must never run.
    struct NoBootstrap : ckks::Bootstrapper {
        ckks::Ciphertext bootstrap(const ckks::Ciphertext&) const override {
            throw std::logic_error("inference does not bootstrap");
        }
        std::size_t output_level() const override { return 0; }
        const char* name() const override { return "none"; }
    } nb;
    CkksBackend cb(evl, nb, nb, s.plan.sh.slots);
    Engine<CkksBackend> eng(s.plan.sh, s.plan.sp, cb);
    CiphertextBundle pred;
    pred.set("kind", "predictions");
    pred.set("job_id", hex64(s.job.id));
    pred.set("data_id", hex64(test.data_id));
    for (const auto& b : test.batches) pred.add(eng.logits(head.cts[0], b));
    ckks::write_file_atomic(out_file, ckks::serialize(P, pred));
    log << "infer: " << test.batches.size() << " encrypted test batch(es) -> " << out_file << " ("
        << mb(file_size(out_file)) << ") in " << std::fixed << std::setprecision(1) << since(t0) << " s\n";
}

// ================================================================ validate (client)

void role_validate(const ValidateOptions& o, std::ostream& log) {
    if (o.exchange_dir.empty()) throw std::invalid_argument("validate needs --exchange DIR (the server's --exchange)");
    const ClientCtx c = load_client(o.client_dir);
    const ClientState st = load_state(c, o.client_dir);
    const Plan plan = make_plan(*c.P, c.job);
    const std::size_t n = st.val_labels.size();
    EarlyStopping es{o.patience};
    for (std::size_t epoch = 1;; ++epoch) {
        const std::string req = join(o.exchange_dir, "val-" + std::to_string(epoch) + ".bin");
        const std::string ans = join(o.exchange_dir, "decision-" + std::to_string(epoch) + ".txt");
        if (!wait_for(req, o.timeout, join(o.exchange_dir, "done"))) {
            if (exists(join(o.exchange_dir, "done"))) {
                log << "validate: the server has finished\n";
                return;
            }
            throw std::runtime_error("no validation request " + req + " after " + std::to_string(o.timeout) + " s");
        }
        const CiphertextBundle b = load_bundle(*c.P, req, "validation", c.job, "");
        double loss = 0;
        std::size_t correct = 0;
        score_bundle(c.P, c.sk, plan, b, req, st.val_labels, loss, correct);
        loss /= static_cast<double>(n);
        const bool stop = es.stop_after(loss);
        if (!exists(ans)) write_text_atomic(ans, stop ? "stop\n" : "continue\n");
        log << "validate: epoch " << epoch << " loss " << std::fixed << std::setprecision(4) << loss << " accuracy "
            << static_cast<double>(correct) / static_cast<double>(n) << " -> " << read_text(ans) << "\n"
            << std::flush;
        if (read_text(ans) == "stop") return;
    }
}

// ================================================================ decrypt (client)

DecryptResult role_decrypt(const DecryptOptions& o, std::ostream& log) {
    const ClientCtx c = load_client(o.client_dir);
    const ClientState st = load_state(c, o.client_dir);
    const Plan plan = make_plan(*c.P, c.job);
    const CiphertextBundle b = load_bundle(*c.P, o.head_file, "head", c.job, "the server's `bt_train train` writes it");
    if (b.cts.size() != 1) throw std::runtime_error(o.head_file + ": expected one ciphertext");
    const ckks::Encoder enc(c.P);
    const ckks::Decryptor dec(c.P, c.sk);
    std::vector<ckks::cplx> z = enc.decode(dec.decrypt(b.cts[0]));
    DecryptResult r;
    // The head is real: the imaginary parts are pure noise (an estimate of σ_e).
    double ss = 0;
    for (const auto& v : z) ss += v.imag() * v.imag();
    r.noise_sigma = std::sqrt(ss / static_cast<double>(z.size()));
    if (o.flooding) {
        r.flood_sigma = o.flood_sigma > 0 ? o.flood_sigma : kDefaultFloodSigma;
        Prng prng = Prng::from_os();
        auto uniform = [&prng] { return (static_cast<double>(prng.next_u64() >> 11) + 0.5) * 0x1p-53; };
        for (auto& v : z) {  // Box–Muller: two independent N(0, 1) per slot
            const double rr = std::sqrt(-2.0 * std::log(uniform())), th = 2 * M_PI * uniform();
            v += ckks::cplx(r.flood_sigma * rr * std::cos(th), r.flood_sigma * rr * std::sin(th));
        }
    }
    std::vector<double> re(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) re[i] = z[i].real();
    z.assign(z.size(), ckks::cplx(0, 0));
    r.head = unpack_head(plan.sh, re);
    const std::size_t C = r.head.classes, d = plan.sh.d;
    std::vector<float> w(C * d), bias(C), mean(d), inv(d);
    for (std::size_t k = 0; k < C; ++k) {
        for (std::size_t j = 0; j < d; ++j) w[k * d + j] = static_cast<float>(r.head.row(k)[j]);
        bias[k] = static_cast<float>(r.head.row(k)[d]);
    }
    for (std::size_t j = 0; j < d; ++j) {
        mean[j] = static_cast<float>(st.norm.mean[j]);
        inv[j] = static_cast<float>(st.norm.inv_std[j]);
    }
    std::map<std::string, std::string> meta = {
        {"format", "bt-head"},
        {"classes", join_list(c.job.labels)},
        {"model", c.job.model},
        {"gain", CiphertextBundle::f64(st.gain)},
        {"features", "x' = gain * (x - normalizer.mean) * normalizer.inv_std; logits = head.weight x' + head.bias"},
        {"flooding_sigma", o.flooding ? CiphertextBundle::f64(r.flood_sigma) : "none"}};
    nn::write_safetensors(o.out_file,
                          {{"head.weight", {C, d}, w.data()},
                           {"head.bias", {C}, bias.data()},
                           {"normalizer.mean", {d}, mean.data()},
                           {"normalizer.inv_std", {d}, inv.data()}},
                          meta);
    log << "decrypt: head " << C << " x " << d << " (+ bias) -> " << o.out_file << "; CKKS noise per slot 2^"
        << std::fixed << std::setprecision(1) << std::log2(std::max(r.noise_sigma, 1e-300));
    if (o.flooding)
        log << ", flooding sigma 2^" << std::log2(r.flood_sigma) << " per slot ("
            << std::log2(r.flood_sigma / std::max(r.noise_sigma, 1e-300)) << " bits above the noise)\n";
    else
        log << ", NO flooding (--no-flooding: never share this head or anything computed from it)\n";
    return r;
}

// ================================================================ evaluate (client)

namespace {

RunConfig state_config(const ClientCtx& c, const ClientState& st) {
    RunConfig cfg;
    cfg.data_dir = st.data_dir;
    cfg.model = c.job.model;
    cfg.classes = c.job.labels;
    cfg.train_size = st.train_size;
    cfg.val_size = st.val_size;
    cfg.test_size = st.test_size;
    cfg.seed = st.seed;
    cfg.gain = st.gain;
    return cfg;
}

void print_confusion(const std::vector<std::vector<long>>& m, const std::vector<int>& labels, std::ostream& log) {
    log << "confusion (rows: true class, columns: predicted):\n      ";
    for (int l : labels) log << std::setw(6) << l;
    log << "\n";
    for (std::size_t i = 0; i < m.size(); ++i) {
        log << std::setw(6) << labels[i];
        for (long v : m[i]) log << std::setw(6) << v;
        log << "\n";
    }
}

}  // namespace

double role_evaluate_head(const std::string& client_dir, const std::string& head_file, std::ostream& log) {
    const ClientCtx c = load_client(client_dir);
    const ClientState st = load_state(c, client_dir);
    const nn::SafeTensors t = nn::read_safetensors(head_file);
    const nn::Tensor* w = t.find("head.weight");
    const nn::Tensor* b = t.find("head.bias");
    const std::size_t C = c.job.labels.size(), d = c.job.d;
    if (!w || !b || w->shape != std::vector<std::size_t>{C, d} || b->shape != std::vector<std::size_t>{C})
        throw std::runtime_error(head_file + ": expected tensors head.weight [" + std::to_string(C) + ", " +
                                 std::to_string(d) + "] and head.bias [" + std::to_string(C) +
                                 "] (a head written by `bt_train decrypt` for this job)");
    Head h;
    h.classes = C;
    h.cols = d + 1;
    h.w.assign(C * (d + 1), 0.0);
    for (std::size_t k = 0; k < C; ++k) {
        for (std::size_t j = 0; j < d; ++j) h.row(k)[j] = w->data[k * d + j];
        h.row(k)[d] = b->data[k];
    }
    const ClientData cd = prepare_client_data(state_config(c, st), log, &st.norm);
    std::vector<std::vector<long>> m(C, std::vector<long>(C, 0));
    for (std::size_t i = 0; i < cd.test.rows; ++i)
        ++m[static_cast<std::size_t>(cd.test.label[i])][static_cast<std::size_t>(predict(h, cd.test.row(i)))];
    const double acc = accuracy(h, cd.test);
    log << "evaluate: test accuracy of " << head_file << " on " << cd.test.rows << " images: " << std::fixed
        << std::setprecision(4) << acc << "\n";
    print_confusion(m, c.job.labels, log);
    return acc;
}

double role_evaluate_predictions(const std::string& client_dir, const std::string& predictions_file,
                                 std::ostream& log) {
    const ClientCtx c = load_client(client_dir);
    const ClientState st = load_state(c, client_dir);
    const Plan plan = make_plan(*c.P, c.job);
    const CiphertextBundle b =
        load_bundle(*c.P, predictions_file, "predictions", c.job, "the server's `bt_train infer` writes it");
    if (b.get("data_id") != hex64(st.data_id))
        throw std::runtime_error(predictions_file + ": computed on another encrypted test set (re-run infer)");
    double unused = 0;
    std::size_t correct = 0;
    score_bundle(c.P, c.sk, plan, b, predictions_file, st.test_labels, unused, correct);
    const std::size_t n = st.test_labels.size();
    const double acc = static_cast<double>(correct) / static_cast<double>(std::max<std::size_t>(1, n));
    log << "evaluate: encrypted inference, test accuracy on " << n << " images: " << std::fixed
        << std::setprecision(4) << acc << "\n";
    return acc;
}

}  // namespace bt::train
