// Client and server roles with files between them (see bt/app/roles.hpp). Each command
// is the shared flow of client.hpp / server.hpp with its inputs read from and its outputs
// written to the files of files.hpp.
#include "bt/app/roles.hpp"

#include "bt/app/data.hpp"
#include "bt/app/forecast.hpp"
#include "bt/cpu.hpp"
#include "bt/dist/comm.hpp"
#include "bt/hash.hpp"
#include "bt/os.hpp"
#include "bt/threadpool.hpp"
#include "bt/train/training.hpp"

#include <chrono>
#include <cmath>
#include <iomanip>

namespace bt::app {

using ckks::CiphertextBundle;

namespace {

using clk = std::chrono::steady_clock;
double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

Randomness client_randomness(const RunConfig& cfg) {
    return cfg.insecure_seed ? Randomness::derived(*cfg.insecure_seed, true) : Randomness::os();
}

template <class Bytes>
void write_logged(const std::string& path, const Bytes& bytes, std::ostream& log, unsigned mode = 0644) {
    write_file_atomic(path, bytes.data(), bytes.size(), mode);
    log << "  " << std::left << std::setw(28) << path << std::right << std::setw(12) << format_bytes(bytes.size()) << "\n";
}

}  // namespace

// ================================================================ keygen (client)

void role_keygen(const RunConfig& cfg, const RoleDirs& dirs, std::ostream& log) {
    const auto t0 = clk::now();
    if (cfg.sk_bootstrap)
        throw UsageError("keygen makes keys for a server, which cannot run the secret-key stand-in: drop "
                         "--insecure-sk-bootstrap");
    const Randomness rnd = client_randomness(cfg);
    // With --data, the classes, their names and (precomputed features) the width come from the data.
    RunConfig rc = cfg;
    Workload server_w;  // what the server will hold, as far as --data tells (keys only without it)
    if (!cfg.data_dir.empty()) {
        const Dataset ds = open_dataset(cfg);
        rc = with_dataset_classes(cfg, ds);
        server_w.train_rows = ds.train.size();
        server_w.val_rows = ds.val.size();
    }
    rc.boot_fast_keys = false;
    rc.sparse_weights = false;
    ClientPlan cp = plan_client_job(rc, rnd.id("job"));
    prepare_output_dir(dirs.client, "client directory", 0700);
    make_private_dir(dirs.client);  // it will hold the secret key: 0700 even if it existed
    prepare_output_dir(dirs.server, "server directory", 0755);
    const Calibration cal = calibrate(cp.P, cp.plan, nullptr);
    if (rc.prefer_speed && cp.bs) {
        // One DFT key per giant step if the server's keys (held expanded: its key cache) and
        // its data (with --data) still fit the memory limit (--max-memory: give the server's).
        rc.boot_fast_keys = true;
        rc.sparse_weights = true;
        ClientPlan fast = plan_client_job(rc, cp.job.id);
        const Forecast ff = make_forecast(Phase::Train, *fast.P, fast.job, fast.plan, fast.bs.get(), server_w, cal, fast.ws.get());
        const std::size_t avail = cfg.max_memory ? cfg.max_memory : available_memory_bytes();
        const bool fits = !avail || ff.peak_bytes <= avail;
        log << "--prefer speed: one DFT key per giant step" << (fast.ws ? " and the weights' own sparse bootstrapping" : "")
            << ": server keys " << format_bytes(ff.key_bytes) << ", peak "
            << format_bytes(ff.peak_bytes) << (fits ? " (chosen)" : " above " + format_bytes(avail) + ": Horner DFT keys")
            << "\n";
        if (fits) cp = std::move(fast);
    }
    log << cp.describe() << "\n";
    const Forecast f = make_forecast(Phase::Keygen, *cp.P, cp.job, cp.plan, cp.bs.get(), Workload{}, cal, cp.ws.get());
    log << f.describe() << "\n";
    check_memory(f, cfg.max_memory, cfg.force, log);
    ClientKeys ck{cp.P, cp.job, cp.plan, make_secret_key(cp.P, rnd)};
    // Only written to files: no key ever holds its expanded a_j here.
    const EvalKeys keys = make_eval_keys(ck, cp.bs.get(), rnd, log, KeyForm::SeededAll, cp.ws.get());
    const ckks::Params& P = *cp.P;
    log << "client files (keep them; the secret key never leaves this side):\n";
    write_logged(path_join(dirs.client, "secret.key"), ckks::serialize_secret(P, ck.sk), log, 0600);
    write_logged(path_join(dirs.client, "params.bin"), ckks::serialize(P), log);
    write_logged(path_join(dirs.client, "job.bin"), ckks::serialize(P, cp.job.bundle()), log);
    log << "server bundle (hand it over; nothing in it can decrypt):\n";
    write_logged(path_join(dirs.server, "params.bin"), ckks::serialize(P), log);
    write_logged(path_join(dirs.server, "job.bin"), ckks::serialize(P, cp.job.bundle()), log);
    write_logged(path_join(dirs.server, "relin.key"), ckks::serialize(P, keys.relin), log);
    write_logged(path_join(dirs.server, "galois-boot.key"), ckks::serialize(P, keys.boot), log);
    if (keys.has_encaps)
        write_logged(path_join(dirs.server, "encaps.key"), ckks::serialize(P, *cp.bs->encapsulation_ring(), keys.encaps), log);
    write_logged(path_join(dirs.server, "galois-train.key"), ckks::serialize(P, keys.train), log);
    log << "keygen: job " << hex64(cp.job.id) << " in " << std::fixed << std::setprecision(1) << since(t0)
        << " s, peak memory " << format_bytes(peak_rss_bytes()) << "\n";
}

// ================================================================ encrypt (client)

void role_encrypt(const RunConfig& cfg_in, const RoleDirs& dirs, std::ostream& log) {
    const auto t0 = clk::now();
    const ClientKeys ck = load_client(dirs.client, cfg_in.allow_insecure);
    RunConfig cfg = cfg_in;
    cfg.model = ck.job.model;
    cfg.classes = ck.job.labels;
    cfg.batch = ck.job.batch;
    check_config(cfg);
    const Dataset ds = open_dataset(cfg);
    if (!ds.d && ck.job.model == kNoModel)
        throw UsageError("the keys were planned for precomputed features, " + cfg.data_dir +
                         " holds images: give encrypt the --data given to keygen");
    const nn::ViT model = ds.d ? nn::ViT() : load_model(cfg.model);
    const std::size_t width = ds.d ? ds.d : model.config.width;
    if (width != ck.job.d)
        throw UsageError((ds.d ? "the features of " + cfg.data_dir : "the model " + cfg.model) + " give " +
                         std::to_string(width) + " features, the keys were planned for " + std::to_string(ck.job.d) +
                         (ds.d ? ": give keygen the same --data" : ": use the model given to keygen"));
    prepare_output_dir(dirs.server, "server directory", 0755);
    const ClientData cd = extract_client_data(ds, model, cfg.gain, ck.job.classes(), log);
    const train::EncShape& sh = ck.plan.sh;
    range_precheck(cd.train, ck.job, log);
    const Randomness rnd = client_randomness(cfg);
    ClientState st;
    st.data_id = rnd.id("data");
    if (path_exists(path_join(dirs.client, "client.bin"))) {
        std::string old = "an earlier";
        try {
            old = "data set " + hex64(load_client_state(ck, dirs.client).data_id) + " of an earlier";
        } catch (const std::exception&) {
        }
        log << "note: replacing " << old << " `encrypt` in " << dirs.client
            << "/client.bin: the server's earlier train.bin, val.bin and test.bin no longer match this client and are "
               "replaced too; a head trained on them can no longer be decrypted here\n";
    }
    const std::size_t per_val = sh.blocks * sh.s0;
    // Each set is written batch by batch as it is encrypted (memory: one batch).
    const struct {
        const char* kind;
        const train::Features& f;
        std::size_t rows;
        bool labels;
    } sets[] = {{"train-set", cd.train, sh.batch, true}, {"val-set", cd.val, per_val, false},
                {"test-set", cd.test, per_val, false}};
    std::vector<std::string> written;
    for (const auto& set : sets) {
        const std::string name = std::string(set.kind).substr(0, std::string(set.kind).find('-')) + ".bin";
        written.push_back(path_join(dirs.server, name));
        encrypt_to_set_file(written.back(), ck, set.kind, set.f, set.rows, set.labels, st.data_id, rnd, log);
    }
    log << "encrypted data for the server (features and training labels; seeded ciphertexts):\n";
    for (const std::string& path : written)
        log << "  " << std::left << std::setw(28) << path << std::right << std::setw(12) << format_bytes(file_size(path))
            << "\n";
    st.data_dir = cfg.data_dir;
    st.format = format_name(ds.format);
    st.seed = cfg.seed;
    st.gain = cfg.gain;
    st.train_size = cd.train.rows;
    st.val_size = cd.val.rows;
    st.test_size = cfg.test_size;
    st.norm = cd.norm;
    st.val_labels = cd.val.label;
    st.test_labels = cd.test.label;
    write_logged(path_join(dirs.client, "client.bin"), ckks::serialize(*ck.P, st.bundle(ck.job)), log, 0600);
    log << "encrypt: " << std::fixed << std::setprecision(1) << since(t0) << " s\n";
}

// ================================================================ train (server)

namespace {

// Where a rank other than 0 writes its log: nowhere (rank 0 speaks for the job; errors
// still reach stderr with the rank's number).
struct NullBuf : std::streambuf {
    int overflow(int c) override { return c; }
};

std::ostream& rank_log(const dist::Comm& c, std::ostream& log) {
    static NullBuf buf;
    static std::ostream null(&buf);
    return c.root() ? log : null;
}

// All ranks hold the same value, or all refuse (before any work that depends on it).
void agree(const dist::Comm& c, std::uint64_t v, const std::string& what) {
    if (c.size() > 1 && c.allreduce_min(v) != c.allreduce_max(v))
        throw UsageError("the ranks differ in " + what +
                         ": every machine needs the same files (compare their checksums with the client's)");
}

// The server's inputs on every rank. The first rank of each machine loads the key files
// and builds or checks the key cache; the others of that machine then map the same cache
// (one copy of the keys in the page cache for all of them).
ServerInputs load_server_ranks(const dist::Comm& c, const std::string& dir, bool boot, bool allow_insecure,
                               const std::string& key_cache, std::ostream& log) {
    const std::string cache = key_cache == "-" ? default_key_cache(dir) : key_cache;
    if (c.size() == 1) return load_server(dir, boot, allow_insecure, cache, &log);
    std::unique_ptr<ServerInputs> in;
    if (c.node_rank() == 0) in = std::make_unique<ServerInputs>(load_server(dir, boot, allow_insecure, cache, &log));
    c.node_barrier();
    if (c.node_rank() != 0) in = std::make_unique<ServerInputs>(load_server(dir, boot, allow_insecure, cache, nullptr));
    // Every rank must have read the same parameters, job and keys.
    agree(c, server_bundle_digest(dir), "their server bundles (params.bin, job.bin, key files) in " + dir);
    return std::move(*in);
}

// The same set file on every rank: its kind, data id and each batch's rows.
std::uint64_t set_digest(const BatchSource& s) {
    std::uint64_t h = fnv1a64(s.kind());
    const std::uint64_t id = s.data_id(), nb = s.batches();
    h = fnv1a64(&id, sizeof id, h);
    h = fnv1a64(&nb, sizeof nb, h);
    for (std::size_t k = 0; k < s.batches(); ++k) {
        const std::uint64_t r = s.batch_rows(k);
        h = fnv1a64(&r, sizeof r, h);
    }
    return h;
}

}  // namespace

void role_train(const TrainRoleOptions& o, std::ostream& log_all) {
    const auto t0 = clk::now();
    const dist::Comm& comm = o.comm ? *o.comm : dist::Comm::world();
    std::ostream& log = rank_log(comm, log_all);
    const std::string out = o.out_dir.empty() ? o.server_dir : o.out_dir;
    ServerInputs in = load_server_ranks(comm, o.server_dir, true, o.allow_insecure, o.key_cache, log);
    const ckks::Params& P = *in.P;
    std::unique_ptr<ckks::CkksBootstrapper> bs = make_bootstrapper(in.P, in.job);
    check_bootstrapping_keys(in, *bs, o.server_dir);
    attach_keys(*bs, in.keys);
    std::unique_ptr<ckks::CkksBootstrapper> ws = make_weights_bootstrapper(in.P, in.job, in.plan);
    if (ws) {
        check_bootstrapping_keys(in, *ws, o.server_dir);
        attach_keys(*ws, in.keys);
    }
    FileSet tr_file(P, path_join(o.server_dir, "train.bin"), "train-set", in.job, in.plan, true);
    FileSet va(P, path_join(o.server_dir, "val.bin"), "val-set", in.job, in.plan, false);
    // Small sets are held in memory (their rotations of X are then cached between epochs);
    // larger ones, or with --stream-data, are read a batch at a time. A rank holds and
    // reads only the batches it computes.
    const std::size_t nb = tr_file.batches();
    std::vector<bool> held(nb);
    std::size_t n_held = 0;
    for (std::size_t k = 0; k < nb; ++k)
        n_held += (held[k] = Server::train_owner(k, in.job.groups, comm.size()) == comm.rank()) ? 1u : 0u;
    std::unique_ptr<MemorySet> tr_mem;
    if (!o.stream_data &&
        train::Engine<train::CkksBackend>::rotations_fit(in.plan.sh, n_held, in.plan.lp.x_level, P.N()))
        tr_mem = std::make_unique<MemorySet>(tr_file.load_all(&held));
    BatchSource& tr = tr_mem ? static_cast<BatchSource&>(*tr_mem) : tr_file;
    log << "training data: " << tr.batches() << " batch(es), "
        << (tr_mem ? "held in memory" : "read from disk a batch at a time");
    if (comm.size() > 1)
        log << "; " << comm.size() << " ranks (" << comm.node_size() << " on this machine), each computing the groups j of "
            << "a step with j mod " << comm.size() << " = its rank";
    log << "\n";
    if (o.prefer_speed && bs->transforms_compact()) {
        // Precomputed transforms (faster, bit-identical) if every rank of this machine can hold
        // them beside a step's working set, with the keys and this rank's data already loaded:
        // within --max-memory for the machine (each rank counted at this one's peak so far) or
        // what the machine has free now.
        // (no rows: the data are loaded and in the peak below)
        const Forecast f = make_forecast(Phase::Train, P, in.job, in.plan, bs.get(), Workload{}, Calibration{}, ws.get());
        const std::size_t node = static_cast<std::size_t>(comm.node_size());
        const std::size_t need = (bs->precomputed_bytes() - bs->memory_bytes() + f.working_bytes) * node;
        const std::size_t used = peak_rss_bytes() * node;
        const std::size_t have = o.max_memory ? (o.max_memory > used ? o.max_memory - used : 0) : available_memory_bytes();
        const bool fits = comm.allreduce_min(need <= have ? 1 : 0) == 1;
        if (fits) bs->precompute_transforms();
        log << "--prefer speed: bootstrapping transforms " << (fits ? "precomputed" : "kept compact") << " ("
            << format_bytes(bs->precomputed_bytes()) << " per rank; with a step's working set "
            << format_bytes(need) << " for " << node << " rank(s) of this machine, " << format_bytes(have) << " free)\n";
    }
    const std::size_t ranks = static_cast<std::size_t>(comm.size());
    if (ranks > in.job.groups)
        log << "note: " << comm.size() << " ranks for " << in.job.groups << " group(s) per step: "
            << ranks - in.job.groups << " rank(s) only take part in the reduction and the update (plan more "
            << "groups with keygen --groups)\n";
    if (va.data_id() != tr.data_id())
        throw UsageError("val.bin and train.bin come from different `encrypt` runs: re-send both");
    agree(comm, set_digest(tr_file) ^ (set_digest(va) * 31), "train.bin or val.bin");
    if (comm.root()) prepare_output_dir(out, "output directory", 0755);
    comm.barrier();
    if (out != o.server_dir) check_no_secret_key(out);
    std::unique_ptr<FileExchange> ex;
    if (!o.exchange_dir.empty() && comm.root())
        ex = std::make_unique<FileExchange>(P, in.job, o.exchange_dir, o.exchange_timeout, log);
    log << "server: job " << hex64(in.job.id) << ", " << P.summary().substr(0, P.summary().find('\n')) << "\n"
        << in.plan.describe() << "\n";
    Server srv(in.P, in.job, in.plan, in.keys, bs.get(), &comm, ws.get());
    LoopOptions lo;
    lo.epochs = o.epochs;
    lo.checkpoint_dir = path_join(out, "checkpoints");
    lo.checkpoint_every = o.checkpoint_every;
    lo.resume = o.resume;
    lo.max_steps = o.max_steps;
    const TrainState st = srv.train(tr, &va, lo, ex.get(), nullptr, log);
    const std::string head_path = path_join(out, "head.bin");
    if (st.paused) {
        log << "train: paused at step " << st.step << " (--max-steps " << o.max_steps << "); no head yet: run again "
            << "with --resume (any number of ranks) to continue\n";
        return;
    }
    if (comm.root()) {
        CiphertextBundle head;
        head.set("kind", "head");
        head.set("job_id", hex64(in.job.id));
        head.set("data_id", hex64(tr.data_id()));
        head.set("steps", std::to_string(st.step));
        head.add(st.w);
        write_file_atomic(head_path, ckks::serialize(P, head));
        if (ex) ex->finish();
    }
    const auto& sec = srv.backend().seconds;
    const std::uint64_t peak = comm.allreduce_max(peak_rss_bytes());
    const std::uint64_t moved = comm.allreduce_max(srv.bytes_exchanged());
    log << std::fixed << std::setprecision(1) << "train: " << st.step << " steps, encrypted head " << head_path << " ("
        << format_bytes(file_size(head_path)) << "); this run " << since(t0) << " s (matmul " << sec[0] << ", softmax "
        << sec[1] << ", bootstrap " << sec[2] << ", update " << sec[3] << ", other " << sec[4] << "), peak memory "
        << format_bytes(peak_rss_bytes());
    if (comm.size() > 1)
        log << " (largest rank " << format_bytes(peak) << "), exchanged " << format_bytes(moved) << " per rank ("
            << format_bytes(moved / std::max<std::size_t>(st.step, 1)) << " per step)";
    log << "\n";
}

// ================================================================ infer (server)

void role_infer(const std::string& server_dir, const std::string& head_file, const std::string& out_file,
                bool allow_insecure, std::ostream& log_all, const std::string& key_cache, const dist::Comm* c) {
    const dist::Comm& comm = c ? *c : dist::Comm::world();
    std::ostream& log = rank_log(comm, log_all);
    const ServerInputs in = load_server_ranks(comm, server_dir, false, allow_insecure, key_cache, log);
    const ckks::Params& P = *in.P;
    // Rank 0's head is the one every rank applies.
    std::vector<std::uint8_t> head_bytes;
    if (comm.root()) {
        load_bundle(P, head_file, "head", in.job, "run `bt_train train` first");  // refusals name the file
        head_bytes = read_file(head_file);
    }
    comm.bcast(head_bytes);
    const CiphertextBundle head = ckks::deserialize_bundle(P, head_bytes);
    check_bundle(head, head_file, "head", in.job);
    if (head.cts.size() != 1) throw std::runtime_error(head_file + ": expected one ciphertext");
    FileSet test(P, path_join(server_dir, "test.bin"), "test-set", in.job, in.plan, false);
    agree(comm, set_digest(test), "test.bin");
    Server srv(in.P, in.job, in.plan, in.keys, nullptr, &comm);
    CiphertextBundle pred;
    pred.set("kind", "predictions");
    pred.set("job_id", hex64(in.job.id));
    pred.set("data_id", hex64(test.data_id()));
    for (auto& ct : srv.infer(head.cts[0], test, log)) pred.add(std::move(ct));
    if (comm.root()) {
        write_file_atomic(out_file, ckks::serialize(P, pred));
        log << "infer: " << test.batches() << " encrypted test batch(es) -> " << out_file << " ("
            << format_bytes(file_size(out_file)) << ")\n";
    }
}

// ================================================================ validate (client)

void role_validate(const ValidateOptions& o, std::ostream& log) {
    if (o.exchange_dir.empty()) throw UsageError("validate needs --exchange DIR (the directory given to the server's train)");
    const ClientKeys ck = load_client(o.client_dir, o.allow_insecure);
    const ClientState st = load_client_state(ck, o.client_dir);
    train::EarlyStopping es{o.patience};
    const std::string done = path_join(o.exchange_dir, "done");
    for (std::size_t epoch = 1;; ++epoch) {
        const std::string req = path_join(o.exchange_dir, "val-" + std::to_string(epoch) + ".bin");
        const std::string ans = path_join(o.exchange_dir, "decision-" + std::to_string(epoch) + ".txt");
        if (!wait_for_file(req, o.timeout, done)) {
            if (path_exists(done)) {
                log << "validate: the server has finished\n";
                return;
            }
            throw std::runtime_error("no validation request " + req + " after " + std::to_string(o.timeout) + " s");
        }
        const CiphertextBundle b = load_bundle(*ck.P, req, "validation", ck.job, "");
        if (!b.has("epoch") || b.get("epoch") != std::to_string(epoch))
            throw std::runtime_error(req + ": a validation request for epoch " + (b.has("epoch") ? b.get("epoch") : "?") +
                                     " in the place of epoch " + std::to_string(epoch) + "'s: refused");
        const Score s = score_ciphertexts(ck, b.cts, Returned::Probabilities, st.val_labels, req);
        const bool stop = es.stop_after(s.loss);
        if (!path_exists(ans)) write_file_atomic(ans, std::string(stop ? "stop\n" : "continue\n"));
        const std::string answer = read_text_trimmed(ans);
        log << "validate: epoch " << epoch << " loss " << std::fixed << std::setprecision(4) << s.loss << " accuracy "
            << s.accuracy << " -> " << answer << "\n"
            << std::flush;
        if (answer == "stop") return;
    }
}

// ================================================================ decrypt (client)

ReleasedHead role_decrypt(const DecryptOptions& o, std::ostream& log) {
    const ClientKeys ck = load_client(o.client_dir, o.allow_insecure);
    const ClientState st = load_client_state(ck, o.client_dir);
    const CiphertextBundle b = load_bundle(*ck.P, o.head_file, "head", ck.job, "the server's `bt_train train` writes it");
    if (b.cts.size() != 1) throw std::runtime_error(o.head_file + ": expected one ciphertext, found " + std::to_string(b.cts.size()));
    if (!b.has("data_id") || b.get("data_id") != hex64(st.data_id))
        throw std::runtime_error(o.head_file + ": trained on another encrypted data set (data id " +
                                 (b.has("data_id") ? b.get("data_id") : std::string("none")) + ", this client's is " +
                                 hex64(st.data_id) + "): refused");
    const ReleasedHead r = decrypt_head(ck, b.cts[0], o.flooding, o.flood_sigma, o.head_file);
    write_head(o.out_file, r, st.norm, ck.job, HeadProvenance{st.data_dir, st.test_size, st.format, st.seed});
    log << "decrypt: head " << r.head.classes << " x " << ck.job.d << " (+ bias) -> " << o.out_file
        << "; CKKS noise per slot 2^" << std::fixed << std::setprecision(1) << std::log2(std::max(r.noise_sigma, 1e-300));
    if (r.flood_sigma > 0)
        log << ", flooding sigma 2^" << std::log2(r.flood_sigma) << " per slot ("
            << std::log2(r.flood_sigma / std::max(r.noise_sigma, 1e-300)) << " bits above the noise)\n";
    else
        log << ", NO flooding (--no-flooding: never share this head or anything computed from it)\n";
    return r;
}

// ================================================================ evaluate (client)

Evaluation role_evaluate_head(const std::string& head_file, const std::string& data_dir, const std::string& model,
                              std::ostream& log) {
    const HeadFile h = read_head(head_file);
    RunConfig cfg;
    cfg.data_dir = data_dir.empty() ? h.prov.data_dir : data_dir;
    cfg.model = model.empty() ? h.model : model;
    cfg.classes = h.labels;
    cfg.test_size = h.prov.test_size;
    cfg.format = data_dir.empty() ? h.prov.format : "";  // another --data: its own format
    cfg.seed = h.prov.seed;
    const Dataset ds = open_dataset(cfg, true);
    const nn::ViT vit = ds.d ? nn::ViT() : load_model(cfg.model);
    const ClientData cd = extract_client_data(ds, vit, h.norm.gain, static_cast<int>(h.labels.size()), log, &h.norm);
    const Evaluation e = evaluate_head(h.head, cd.test);
    log << "evaluate: test accuracy of " << head_file << " on " << cd.test.rows << " images: " << std::fixed
        << std::setprecision(4) << e.accuracy << "\n";
    print_confusion(e, h.class_names, log);
    return e;
}

double role_evaluate_predictions(const std::string& client_dir, const std::string& predictions_file,
                                 bool allow_insecure, std::ostream& log) {
    const ClientKeys ck = load_client(client_dir, allow_insecure);
    const ClientState st = load_client_state(ck, client_dir);
    const CiphertextBundle b =
        load_bundle(*ck.P, predictions_file, "predictions", ck.job, "the server's `bt_train infer` writes it");
    if (b.get("data_id") != hex64(st.data_id))
        throw UsageError(predictions_file + ": computed on another encrypted test set (re-run infer)");
    const Score s = score_ciphertexts(ck, b.cts, Returned::Logits, st.test_labels, predictions_file);
    log << "evaluate: encrypted inference, test accuracy on " << s.rows << " images: " << std::fixed
        << std::setprecision(4) << s.accuracy << "\n";
    return s.accuracy;
}

}  // namespace bt::app
