// The files of the two roles (see bt/app/files.hpp).
#include "bt/app/files.hpp"

#include "bt/app/args.hpp"
#include "bt/app/config.hpp"
#include "bt/ckks/keycache.hpp"
#include "bt/hash.hpp"
#include "bt/os.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/train/training.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace bt::app {

using ckks::CiphertextBundle;

namespace {

const char* kClientHint = "run `bt_train keygen` (and `bt_train encrypt`) first, or pass --client DIR";
const char* kServerHint = "the client's `bt_train keygen` and `bt_train encrypt` write the server directory; "
                          "pass --server DIR";

void require_file(const std::string& path, const std::string& what, const std::string& hint) {
    if (!path_exists(path)) throw UsageError(what + " " + path + " not found: " + hint);
}

std::vector<std::uint8_t> read_required(const std::string& path, const std::string& what, const std::string& hint) {
    require_file(path, what, hint);
    return read_file(path);
}

// Runs a loader; its refusal names the file (the CKKS loaders name only the object type).
template <class Fn>
auto named(const std::string& path, Fn fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const UsageError&) {
        throw;
    } catch (const std::exception& e) {
        const std::string m = e.what();
        if (m.find(path) != std::string::npos) throw;
        throw std::runtime_error(path + ": " + m);
    }
}

template <class T>
std::string join_list(const std::vector<T>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) s += ",";
        if constexpr (std::is_floating_point<T>::value) s += CiphertextBundle::f64(static_cast<double>(v[i]));
        else s += std::to_string(v[i]);
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
        if (item.empty() || *end || !std::isfinite(x))
            throw std::runtime_error(what + ": '" + item + "' is not a finite number: the file is corrupt");
        out.push_back(x);
    }
    return out;
}

std::vector<int> parse_labels(const std::string& s, int classes, const std::string& what) {
    std::vector<int> out;
    for (double x : parse_doubles(s, what)) {
        if (x != static_cast<int>(x) || x < 0 || x >= classes)
            throw std::runtime_error(what + ": label " + std::to_string(x) + " outside 0.." +
                                     std::to_string(classes - 1) + ": the file is corrupt");
        out.push_back(static_cast<int>(x));
    }
    return out;
}

ckks::ParamsPtr load_params(const std::string& dir, const std::string& hint, bool allow_insecure) {
    const std::string path = path_join(dir, "params.bin");
    ckks::ParamsPtr P = named(path, [&] { return ckks::deserialize_params(read_required(path, "CKKS parameters", hint)); });
    check_insecure_opt_in(*P, allow_insecure, path);
    return P;
}

Job load_job(const ckks::Params& P, const std::string& dir, const std::string& hint) {
    const std::string path = path_join(dir, "job.bin");
    return named(path, [&] { return Job::from(ckks::deserialize_bundle(P, read_required(path, "job file", hint)), path); });
}

}  // namespace

// ================================================================ client

CiphertextBundle ClientState::bundle(const Job& job) const {
    CiphertextBundle b;
    b.set("kind", "client-state");
    b.set("job_id", hex64(job.id));
    b.set("data_id", hex64(data_id));
    b.set("data", data_dir);
    b.set("data_format", format);
    b.set("seed", std::to_string(seed));
    b.set("gain", CiphertextBundle::f64(gain));
    b.set("train", std::to_string(train_size));
    b.set("val", std::to_string(val_size));
    b.set("test", std::to_string(test_size));
    b.set("norm_mean", join_list(norm.mean));
    b.set("norm_inv_std", join_list(norm.inv_std));
    b.set("val_labels", join_list(val_labels));
    b.set("test_labels", join_list(test_labels));
    return b;
}

ClientState ClientState::from(const CiphertextBundle& b, const std::string& path, std::size_t d) {
    ClientState s;
    s.data_dir = b.get("data");
    if (b.has("data_format")) s.format = b.get("data_format");
    s.data_id = parse_hex64(b.get("data_id"), path);
    s.seed = b.get_u64("seed");
    s.gain = b.get_f64("gain");
    s.train_size = b.get_u64("train");
    s.val_size = b.get_u64("val");
    s.test_size = b.get_u64("test");
    s.norm.gain = s.gain;
    s.norm.mean = parse_doubles(b.get("norm_mean"), path);
    s.norm.inv_std = parse_doubles(b.get("norm_inv_std"), path);
    if (s.norm.mean.size() != d || s.norm.inv_std.size() != d || !(s.gain > 0))
        throw std::runtime_error(path + ": the feature standardisation has " + std::to_string(s.norm.mean.size()) +
                                 " / " + std::to_string(s.norm.inv_std.size()) + " entries, the job's width is " +
                                 std::to_string(d) + ": the file is corrupt (re-run encrypt)");
    return s;
}

ClientKeys load_client(const std::string& dir, bool allow_insecure) {
    ClientKeys c;
    c.P = load_params(dir, kClientHint, allow_insecure);
    c.job = load_job(*c.P, dir, kClientHint);
    c.plan = make_plan(*c.P, c.job);
    const std::string sk_path = path_join(dir, "secret.key");
    if (!path_exists(sk_path)) throw UsageError("secret key " + sk_path + " not found: " + kClientHint);
    const SecureVector<std::uint8_t> sk_bytes = read_file_secret(sk_path);  // wiped when released
    c.sk = named(sk_path, [&] { return ckks::deserialize_secret_key(*c.P, sk_bytes.data(), sk_bytes.size()); });
    return c;
}

ClientState load_client_state(const ClientKeys& ck, const std::string& dir) {
    const std::string path = path_join(dir, "client.bin");
    const CiphertextBundle b = load_bundle(*ck.P, path, "client-state", ck.job, "run `bt_train encrypt` first");
    ClientState s = ClientState::from(b, path, ck.job.d);
    s.val_labels = parse_labels(b.get("val_labels"), ck.job.classes(), path);
    s.test_labels = parse_labels(b.get("test_labels"), ck.job.classes(), path);
    return s;
}

// ================================================================ server

namespace {

// Whether the file's first bytes are a BlindTuner secret-key header (also inside gzip).
bool holds_secret_key(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<std::uint8_t> h(4096);
    f.read(reinterpret_cast<char*>(h.data()), static_cast<std::streamsize>(h.size()));
    h.resize(static_cast<std::size_t>(f.gcount()));
    if (nn::is_gzip(h.data(), h.size())) {
        try {
            h = nn::gunzip_prefix(h.data(), h.size(), ckks::kHeaderBytes);
        } catch (const std::exception&) {
            return false;  // not readable as gzip: not a key we could use either
        }
    }
    return h.size() >= 8 && std::memcmp(h.data(), "BTHE", 4) == 0 &&
           (h[6] | (h[7] << 8)) == static_cast<int>(ckks::ObjectType::SecretKey);
}

std::string find_secret_key(const std::string& dir, int depth) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return "";
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
    ::closedir(d);
    for (const std::string& name : names) {
        const std::string path = path_join(dir, name);
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0) {
                const std::string found = find_secret_key(path, depth - 1);
                if (!found.empty()) return found;
            }
            continue;
        }
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
        if (name == "secret.key" || holds_secret_key(path)) return path;
    }
    return "";
}

}  // namespace

void check_no_secret_key(const std::string& dir) {
    const std::string found = find_secret_key(dir, 4);
    if (!found.empty())
        throw UsageError("found a secret key among the server's inputs or outputs (" + found +
                         "): the server must never hold the secret key; move it back to the client and give the "
                         "server only the bundle written by `bt_train keygen`");
}

namespace {

// The encapsulation ring the job's bootstrapper uses (null without encapsulation), without
// building the bootstrapper's transforms.
ckks::ParamsPtr encapsulation_ring_of(const ckks::Params& P) {
    const std::size_t h = ckks::recommended_bootstrap_config(0).ephemeral_weight;
    return h ? ckks::encapsulation_params(P, h) : nullptr;
}

// Key sets of the server's key cache.
enum KeySet : std::uint32_t { kSetRelin = 0, kSetTrain = 1, kSetBoot = 2, kSetEncaps = 3 };

const char* const kKeyFiles[] = {"relin.key", "galois-train.key", "galois-boot.key", "encaps.key"};

// What a cache of `dir` must have been made from: for every key file there, its name, its
// identity and modification time (device, inode, size, mtime in ns: a file replaced or
// written to since is a new source, as make judges it) and its header (fingerprint,
// payload size and checksum), and the cache format.
std::uint64_t key_files_digest(const std::string& dir) {
    std::uint64_t h = fnv1a64("bt key cache source");
    h = fnv1a64(&ckks::kKeyCacheVersion, sizeof ckks::kKeyCacheVersion, h);
    for (const char* name : kKeyFiles) {
        const std::string path = path_join(dir, name);
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) continue;
        const std::uint64_t id[5] = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                                     static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_mtim.tv_sec),
                                     static_cast<std::uint64_t>(st.st_mtim.tv_nsec)};
        const std::vector<std::uint8_t> head =
            read_file_at(path, 0, std::min<std::uint64_t>(static_cast<std::uint64_t>(st.st_size), ckks::kHeaderBytes));
        h = fnv1a64(name, std::strlen(name), h);
        h = fnv1a64(id, sizeof id, h);
        h = fnv1a64(head.data(), head.size(), h);
    }
    return h;
}

std::uint64_t bundle_digest(const std::string& dir) {
    std::uint64_t h = fnv1a64("bt server bundle");
    for (const char* name : {"params.bin", "job.bin"}) {
        const std::string path = path_join(dir, name);
        const std::vector<std::uint8_t> b = path_exists(path) ? read_file(path) : std::vector<std::uint8_t>{};
        h = fnv1a64(name, std::strlen(name), h);
        h = fnv1a64(b.data(), b.size(), h);
    }
    for (const char* name : kKeyFiles) {  // a key file's header holds its payload's size and checksum
        const std::string path = path_join(dir, name);
        if (!path_exists(path)) continue;
        const std::uint64_t size = file_size(path);
        const std::vector<std::uint8_t> head = read_file_at(path, 0, std::min<std::uint64_t>(size, ckks::kHeaderBytes));
        h = fnv1a64(name, std::strlen(name), h);
        h = fnv1a64(&size, sizeof size, h);
        h = fnv1a64(head.data(), head.size(), h);
    }
    return h;
}

void load_key_files(ServerInputs& s, const std::string& dir, bool boot) {
    const ckks::Params& P = *s.P;
    const std::string rpath = path_join(dir, "relin.key");
    s.keys.relin = named(rpath, [&] {
        return ckks::deserialize_relin_key(P, read_required(rpath, "relinearization key", kServerHint));
    });
    const std::string gpath = path_join(dir, "galois-train.key");
    s.keys.train = named(gpath, [&] {
        return ckks::deserialize_galois_keys(P, read_required(gpath, "training rotation keys", kServerHint));
    });
    if (!boot) return;
    const std::string bpath = path_join(dir, "galois-boot.key");
    s.keys.boot = named(bpath, [&] {
        return ckks::deserialize_galois_keys(P, read_required(bpath, "bootstrapping rotation keys", kServerHint));
    });
    s.keys.has_boot = true;
    const std::string epath = path_join(dir, "encaps.key");
    if (path_exists(epath)) {
        const ckks::ParamsPtr enc_ring = encapsulation_ring_of(*s.P);
        if (enc_ring) {
            s.keys.encaps = named(epath, [&] { return ckks::deserialize_encapsulation_keys(P, *enc_ring, read_file(epath)); });
            s.keys.has_encaps = true;
        }
    }
}

// The keys of `s` from the cache (boot: the bootstrapping and encapsulation keys too).
void map_keys(ServerInputs& s, const ckks::KeyCache& c, bool boot) {
    const ckks::Params& P = *s.P;
    EvalKeys k;
    k.relin.key = c.key(kSetRelin, 0, P);
    k.train.fingerprint = P.fingerprint();
    for (std::uint64_t g : c.ids(kSetTrain)) k.train.keys.emplace(g, c.key(kSetTrain, g, P));
    if (boot) {
        if (c.ids(kSetBoot).empty()) throw ckks::KeyCacheRejected(c.path() + ": holds no bootstrapping keys: stale");
        k.boot.fingerprint = P.fingerprint();
        for (std::uint64_t g : c.ids(kSetBoot)) k.boot.keys.emplace(g, c.key(kSetBoot, g, P));
        k.has_boot = true;
        if (c.has(kSetEncaps, 0)) {
            const ckks::ParamsPtr enc_ring = encapsulation_ring_of(*s.P);
            if (!enc_ring) throw ckks::KeyCacheRejected(c.path() + ": holds encapsulation keys these parameters do not use: stale");
            k.encaps.to_sparse = c.key(kSetEncaps, 0, *enc_ring);
            k.encaps.to_dense = c.key(kSetEncaps, 1, P);
            k.has_encaps = true;
        }
    }
    s.keys = std::move(k);
}

// Loads every key file of `dir` (whatever this role needs), writes the cache, maps it.
void build_key_cache(ServerInputs& s, const std::string& dir, const std::string& path, std::uint64_t source,
                     bool boot, std::ostream* log) {
    const bool all = path_exists(path_join(dir, "galois-boot.key"));
    load_key_files(s, dir, all || boot);
    const ckks::Params& P = *s.P;
    ckks::ParamsPtr enc_ring = s.keys.has_encaps ? encapsulation_ring_of(*s.P) : nullptr;
    std::vector<ckks::KeyCacheEntry> e{{kSetRelin, 0, &P, &s.keys.relin.key}};
    for (const auto& kv : s.keys.train.keys) e.push_back({kSetTrain, kv.first, &P, &kv.second});
    for (const auto& kv : s.keys.boot.keys) e.push_back({kSetBoot, kv.first, &P, &kv.second});
    if (s.keys.has_encaps) {
        e.push_back({kSetEncaps, 0, enc_ring.get(), &s.keys.encaps.to_sparse});
        e.push_back({kSetEncaps, 1, &P, &s.keys.encaps.to_dense});
    }
    const std::size_t bytes = ckks::key_cache_file_bytes(e);
    auto stay_in_memory = [&](const std::string& why) {
        if (log) *log << "key cache: " << why << ": the keys stay in memory\n";
        if (!boot) {
            s.keys.boot = {};
            s.keys.encaps = {};
            s.keys.has_boot = s.keys.has_encaps = false;
        }
    };
    std::size_t free_bytes = 0;
    try {
        free_bytes = disk_free_bytes(dir_name(path));
    } catch (const std::exception& err) {
        stay_in_memory(std::string("cannot use ") + err.what());
        return;
    }
    if (free_bytes < bytes + (std::size_t{1} << 30)) {
        stay_in_memory(path + " would take " + format_bytes(bytes) + ", the disk has " + format_bytes(free_bytes) +
                       " free (1 GiB kept spare)");
        return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
        ckks::write_key_cache(path, source, e);
    } catch (const std::runtime_error& err) {  // a read-only or failing disk: run without the cache
        stay_in_memory(std::string("cannot write it (") + err.what() + ")");
        return;
    }
    if (log)
        *log << "key cache: wrote " << path << " (" << format_bytes(bytes) << ", " << e.size() << " keys) in "
             << std::fixed << std::setprecision(1)
             << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
    s.keys = EvalKeys{};  // the loaded keys go before the cache is mapped (its pages replace them)
    release_free_memory();
    const std::shared_ptr<const ckks::KeyCache> c = ckks::KeyCache::open(path, source);
    map_keys(s, *c, boot);
}

// The checks every key set passes before use, mapped or loaded.
void check_server_keys(const ServerInputs& s, const std::string& dir) {
    const std::string gpath = path_join(dir, "galois-train.key");
    const ckks::Encoder enc(s.P);
    const auto what = [](long st) {
        return st == train::kConjugateStep ? std::string("the conjugation") : "rotation step " + std::to_string(st);
    };
    for (std::size_t i = 0; i < s.plan.steps.size(); ++i) {
        const long st = s.plan.steps[i];
        const std::uint64_t g = train::galois_element(enc, st);
        if (!s.keys.train.has(g))
            throw UsageError(gpath + ": no key for " + what(st) + " (Galois element " +
                             std::to_string(g) + "), which the training plan needs: the bundle is incomplete or "
                             "made for another shape; re-run `bt_train keygen`");
        if (s.keys.train.keys.at(g).max_level < s.plan.step_levels[i])
            throw UsageError(gpath + ": the key for " + what(st) + " serves levels up to " +
                             std::to_string(s.keys.train.keys.at(g).max_level) + ", the plan rotates by it at level " +
                             std::to_string(s.plan.step_levels[i]) + ": re-run keygen");
    }
    if (s.keys.relin.key.max_level < s.plan.lp.L)
        throw UsageError(path_join(dir, "relin.key") + " serves levels up to " +
                         std::to_string(s.keys.relin.key.max_level) + ", the plan multiplies at level " +
                         std::to_string(s.plan.lp.L) + ": re-run keygen");
}

}  // namespace

std::string default_key_cache(const std::string& server_dir) { return path_join(server_dir, "eval-keys.cache"); }

ServerInputs load_server(const std::string& dir, bool bootstrapping_keys, bool allow_insecure,
                         const std::string& key_cache, std::ostream* log) {
    check_no_secret_key(dir);
    ServerInputs s;
    s.P = load_params(dir, kServerHint, allow_insecure);
    s.job = load_job(*s.P, dir, kServerHint);
    if (s.job.sk_bootstrap)
        throw UsageError(path_join(dir, "job.bin") + " was planned with the secret-key stand-in, which a server "
                         "cannot run (it holds no secret key): re-run keygen without it");
    s.plan = make_plan(*s.P, s.job);
    if (key_cache.empty()) {
        load_key_files(s, dir, bootstrapping_keys);
    } else {
        // The key files are read (and checked) in full only when the cache is (re)built.
        require_file(path_join(dir, "relin.key"), "relinearization key", kServerHint);
        require_file(path_join(dir, "galois-train.key"), "training rotation keys", kServerHint);
        if (bootstrapping_keys)
            require_file(path_join(dir, "galois-boot.key"), "bootstrapping rotation keys", kServerHint);
        const std::uint64_t source = key_files_digest(dir);
        try {
            const std::shared_ptr<const ckks::KeyCache> c = ckks::KeyCache::open(key_cache, source);
            map_keys(s, *c, bootstrapping_keys);
            if (log) *log << "key cache: mapped " << key_cache << " (" << format_bytes(c->mapped_bytes()) << ")\n";
        } catch (const ckks::KeyCacheRejected& e) {
            if (log) {
                if (path_exists(key_cache))
                    *log << "key cache: refused: " << e.what() << "; rebuilding it\n";
                else
                    *log << "key cache: building " << key_cache << " (once; later runs map it)\n";
            }
            build_key_cache(s, dir, key_cache, source, bootstrapping_keys, log);
        }
    }
    check_server_keys(s, dir);
    return s;
}

void check_bootstrapping_keys(const ServerInputs& in, const ckks::CkksBootstrapper& bs, const std::string& dir) {
    if (bs.output_level() != in.job.L)
        throw UsageError("this build bootstraps to level " + std::to_string(bs.output_level()) +
                         ", the job was planned for " + std::to_string(in.job.L) +
                         ": client and server must run the same BlindTuner version");
    for (std::uint64_t g : bs.galois_elements())
        if (!in.keys.boot.has(g))
            throw UsageError(path_join(dir, "galois-boot.key") + ": no key for Galois element " + std::to_string(g) +
                             ", which bootstrapping needs: re-run `bt_train keygen`");
    if (bs.encapsulation_ring() && !in.keys.has_encaps)
        throw UsageError(path_join(dir, "encaps.key") + " not found: bootstrapping with these parameters needs the "
                         "encapsulation keys; re-run `bt_train keygen`");
}

// ================================================================ the exchange

bool wait_for_file(const std::string& path, double timeout, const std::string& alt) {
    const auto t0 = std::chrono::steady_clock::now();
    while (!path_exists(path)) {
        if (!alt.empty() && path_exists(alt)) return false;
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

FileExchange::FileExchange(const ckks::Params& P, const Job& job, std::string dir, double timeout, std::ostream& log)
    : P_(P), job_(job), dir_(std::move(dir)), timeout_(timeout), log_(log) {
    check_no_secret_key(dir_);
}

bool FileExchange::stop_after_validation(std::size_t epoch,
                                         const std::function<std::vector<ckks::Ciphertext>()>& compute) {
    const std::string req = path_join(dir_, "val-" + std::to_string(epoch) + ".bin");
    const std::string dec = path_join(dir_, "decision-" + std::to_string(epoch) + ".txt");
    if (!path_exists(dec)) {
        CiphertextBundle b;
        b.set("kind", "validation");
        b.set("job_id", hex64(job_.id));
        b.set("epoch", std::to_string(epoch));
        for (auto& ct : compute()) b.add(std::move(ct));
        write_file_atomic(req, ckks::serialize(P_, b));
        log_ << "epoch " << epoch << ": validation request " << req << ", waiting for the client\n" << std::flush;
        if (!wait_for_file(dec, timeout_))
            throw std::runtime_error("no answer in " + dec + " after " + std::to_string(timeout_) +
                                     " s: run `bt_train validate` on the client; then resume with --resume");
    }
    const std::string answer = read_text_trimmed(dec);
    if (answer != "continue" && answer != "stop")
        throw std::runtime_error(dec + " holds '" + answer + "', expected exactly 'continue' or 'stop'");
    return answer == "stop";
}

void FileExchange::finish() { write_file_atomic(path_join(dir_, "done"), std::string("done\n")); }

std::uint64_t server_bundle_digest(const std::string& dir) { return bundle_digest(dir); }

}  // namespace bt::app
