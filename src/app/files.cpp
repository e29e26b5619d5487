// The files of the two roles (see bt/app/files.hpp).
#include "bt/app/files.hpp"

#include "bt/app/args.hpp"
#include "bt/app/config.hpp"
#include "bt/os.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/train/training.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace bt::app {

using ckks::CiphertextBundle;

namespace {

const char* kClientHint = "run `bt_train keygen` (and `bt_train encrypt`) first, or pass --client DIR";
const char* kServerHint = "the client's `bt_train keygen` and `bt_train encrypt` write the server directory; "
                          "pass --server DIR";

std::vector<std::uint8_t> read_required(const std::string& path, const std::string& what, const std::string& hint) {
    if (!path_exists(path)) throw UsageError(what + " " + path + " not found: " + hint);
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

ServerInputs load_server(const std::string& dir, bool bootstrapping_keys, bool allow_insecure) {
    check_no_secret_key(dir);
    ServerInputs s;
    s.P = load_params(dir, kServerHint, allow_insecure);
    s.job = load_job(*s.P, dir, kServerHint);
    if (s.job.sk_bootstrap)
        throw UsageError(path_join(dir, "job.bin") + " was planned with the secret-key stand-in, which a server "
                         "cannot run (it holds no secret key): re-run keygen without it");
    s.plan = make_plan(*s.P, s.job);
    const ckks::Params& P = *s.P;
    const std::string rpath = path_join(dir, "relin.key");
    s.keys.relin = named(rpath, [&] {
        return ckks::deserialize_relin_key(P, read_required(rpath, "relinearization key", kServerHint));
    });
    const std::string gpath = path_join(dir, "galois-train.key");
    s.keys.train = named(gpath, [&] {
        return ckks::deserialize_galois_keys(P, read_required(gpath, "training rotation keys", kServerHint));
    });
    const ckks::Encoder enc(s.P);
    for (long st : s.plan.steps) {
        const std::uint64_t g = enc.galois_element(st);
        if (!s.keys.train.has(g))
            throw UsageError(gpath + ": no key for rotation step " + std::to_string(st) + " (Galois element " +
                             std::to_string(g) + "), which the training plan needs: the bundle is incomplete or "
                             "made for another shape; re-run `bt_train keygen`");
        if (s.keys.train.keys.at(g).max_level < s.plan.lp.L)
            throw UsageError(gpath + ": the key for rotation step " + std::to_string(st) + " serves levels up to " +
                             std::to_string(s.keys.train.keys.at(g).max_level) + ", the plan rotates at level " +
                             std::to_string(s.plan.lp.L) + ": re-run keygen");
    }
    if (s.keys.relin.key.max_level < s.plan.lp.L)
        throw UsageError(path_join(dir, "relin.key") + " serves levels up to " +
                         std::to_string(s.keys.relin.key.max_level) + ", the plan multiplies at level " +
                         std::to_string(s.plan.lp.L) + ": re-run keygen");
    if (!bootstrapping_keys) return s;
    const std::string bpath = path_join(dir, "galois-boot.key");
    s.keys.boot = named(bpath, [&] {
        return ckks::deserialize_galois_keys(P, read_required(bpath, "bootstrapping rotation keys", kServerHint));
    });
    s.keys.has_boot = true;
    const std::string epath = path_join(dir, "encaps.key");
    if (path_exists(epath)) {
        const ckks::ParamsPtr enc_ring = make_bootstrapper(s.P)->encapsulation_ring();
        if (enc_ring) {
            s.keys.encaps = named(epath, [&] { return ckks::deserialize_encapsulation_keys(P, *enc_ring, read_file(epath)); });
            s.keys.has_encaps = true;
        }
    }
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

}  // namespace bt::app
