// Client and server as separate roles (src/train/roles.cpp), on the small insecure ring
// N12_test_boot with REAL bootstrapping (the server never has a secret key, so the
// stand-in cannot be used), the shipped model and Fashion-MNIST.
//   roles       bad input: each case refused with a message saying what was expected
//   roles-slow  the walk-through (train as a separate process, validate in this one)
//               against the one-process pipeline; kill-and-resume bit equality
// One key set and one encrypted data set are made once per test process (~20 s) and
// shared; cases that damage files work on hard-linked copies.
#include "doctest/doctest.h"

#include "bt/ckks/serialize.hpp"
#include "bt/train/roles.hpp"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <ftw.h>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace bt::train;
namespace ck = bt::ckks;

namespace {

const char* kModel = "models/bt-vit-fmnist04.safetensors";
const char* kData = "/usr/share/datasets/fashion-mnist";

bool exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A copy of a directory's regular files by hard links (keys are hundreds of MB).
std::string link_copy(const std::string& from, const std::string& to) {
    ::mkdir(to.c_str(), 0700);
    for (const auto& f : list_dir(from)) {
        struct stat st;
        if (::stat((from + "/" + f).c_str(), &st) == 0 && S_ISREG(st.st_mode))
            REQUIRE(::link((from + "/" + f).c_str(), (to + "/" + f).c_str()) == 0);
    }
    return to;
}

// Replaces a (hard-linked) file by a new one with the given bytes.
void replace_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::remove(path.c_str());
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

RunConfig small_run_config() {
    RunConfig cfg;
    cfg.model = kModel;
    cfg.data_dir = kData;
    cfg.preset = "N12_test_boot";
    cfg.batch = 128;
    cfg.epochs = 2;
    cfg.train_size = 256;
    cfg.val_size = 128;
    cfg.test_size = 500;
    cfg.seed = 1;
    return cfg;
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return std::remove(path); }

struct Workspace {
    std::string root, client, server;
    bool ok = false;
    Workspace() = default;
    Workspace(Workspace&& o) noexcept : root(std::move(o.root)), client(std::move(o.client)), server(std::move(o.server)), ok(o.ok) {
        o.root.clear();
    }
    ~Workspace() {  // ~600 MB of keys and data: removed when the test process exits
        if (!root.empty()) ::nftw(root.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
};

// Keygen + encrypt once per process.
const Workspace& workspace() {
    static Workspace ws = [] {
        Workspace w;
        if (!exists(std::string(kData) + "/train-images-idx3-ubyte.gz") || !exists(kModel)) return w;
        char tmpl[] = "/tmp/bt_roles_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        w.root = tmpl;
        w.client = w.root + "/client";
        w.server = w.root + "/server";
        RoleDirs dirs{w.client, w.server};
        std::ostringstream log;
        role_keygen(small_run_config(), dirs, true, log);
        role_encrypt(small_run_config(), dirs, log);
        w.ok = true;
        return w;
    }();
    return ws;
}

// Runs ./bt_train with `args` as a child process (stdout/stderr to `log_path`), with an
// optional extra environment variable. Returns the pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log_path, const std::string& env = "") {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.push_back(*e);
    if (!env.empty()) envs.push_back(env);
    std::vector<char*> argv, envp;
    argv.push_back(const_cast<char*>("./bt_train"));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(&e[0]);
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        ::execve("./bt_train", argv.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

// Exit code, or 128 + signal.
int wait_child(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool have_binary() {
    if (exists("./bt_train")) return true;
    MESSAGE("skipped: ./bt_train not built (make test builds it; run from the repository root)");
    return false;
}

#define NEED_WORKSPACE()                                                                        \
    const Workspace& ws = workspace();                                                          \
    if (!ws.ok) {                                                                               \
        MESSAGE("skipped: Fashion-MNIST or the shipped model not found (run from the repository " \
                "root; apt-get install dataset-fashion-mnist)");                                \
        return;                                                                                 \
    }

}  // namespace

TEST_SUITE("roles") {

TEST_CASE("roles: the server bundle holds no secret key; train refuses one wherever it is found") {
    NEED_WORKSPACE();
    for (const auto& f : list_dir(ws.server)) {
        INFO(f);
        CHECK(f != "secret.key");
        const auto bytes = ck::read_file(ws.server + "/" + f);
        if (bytes.size() >= ck::kHeaderBytes) CHECK(ck::peek_header(bytes).type != ck::ObjectType::SecretKey);
    }
    CHECK_NOTHROW(check_no_secret_key(ws.server));
    // Under its own name, and renamed.
    for (const std::string name : {"secret.key", "notes.bin"}) {
        const std::string dir = link_copy(ws.server, ws.root + "/with_sk_" + name);
        REQUIRE(::link((ws.client + "/secret.key").c_str(), (dir + "/" + name).c_str()) == 0);
        TrainOptions o;
        o.server_dir = dir;
        std::ostringstream log;
        CHECK_THROWS_WITH_AS(role_train(o, log), doctest::Contains("secret key"), std::runtime_error);
        CHECK_THROWS_WITH_AS(role_infer(dir, dir + "/head.bin", dir + "/p.bin", log), doctest::Contains("secret key"),
                             std::runtime_error);
    }
    if (have_binary()) {  // and the command line refuses the flag outright
        const std::string logp = ws.root + "/flag.log";
        CHECK(wait_child(spawn({"train", "--server", ws.server, "--secret-key", ws.client + "/secret.key"}, logp)) == 2);
        CHECK(slurp(logp).find("never hold the secret key") != std::string::npos);
    }
}

TEST_CASE("roles: bad server inputs are refused with what was expected and found") {
    NEED_WORKSPACE();
    std::ostringstream log;
    auto train_in = [&](const std::string& dir) {
        TrainOptions o;
        o.server_dir = dir;
        o.out_dir = dir + "/out";
        role_train(o, log);
    };
    SUBCASE("parameters of another preset (keys and job made for other parameters)") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_params");
        replace_file(dir + "/params.bin", ck::serialize(*ck::preset("N12_test")));
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("made for other CKKS parameters"), std::runtime_error);
    }
    SUBCASE("a rotation key the plan needs is missing") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_rot");
        const auto P = ck::deserialize_params(ck::read_file(dir + "/params.bin"));
        ck::GaloisKeys gk = ck::deserialize_galois_keys(*P, ck::read_file(dir + "/galois-train.key"));
        gk.keys.erase(std::next(gk.keys.begin(), static_cast<long>(gk.keys.size() / 2)));
        replace_file(dir + "/galois-train.key", ck::serialize(*P, gk));
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("no key for rotation step"), std::runtime_error);
    }
    SUBCASE("truncated and corrupted ciphertext files") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_ct");
        auto bytes = ck::read_file(dir + "/train.bin");
        replace_file(dir + "/train.bin", std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 3)));
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("truncated"), std::runtime_error);
        bytes[bytes.size() / 2] ^= 0x10;
        replace_file(dir + "/train.bin", bytes);
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("corrupt"), std::runtime_error);
    }
    SUBCASE("a data set whose shape differs from the plan") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_shape");
        const auto P = ck::deserialize_params(ck::read_file(dir + "/params.bin"));
        ck::CiphertextBundle b = ck::deserialize_bundle(*P, ck::read_file(dir + "/train.bin"));
        b.set("d", "200");
        replace_file(dir + "/train.bin", ck::serialize(*P, b));
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("shape differs from the plan"), std::runtime_error);
    }
    SUBCASE("a data set or head of another job") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_job");
        const auto P = ck::deserialize_params(ck::read_file(dir + "/params.bin"));
        ck::CiphertextBundle b = ck::deserialize_bundle(*P, ck::read_file(dir + "/val.bin"));
        b.set("job_id", "0123456789abcdef");
        replace_file(dir + "/val.bin", ck::serialize(*P, b));
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("made for job 0123456789abcdef"), std::runtime_error);
    }
    SUBCASE("a job packed with another layout (an older client)") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_layout");
        const auto P = ck::deserialize_params(ck::read_file(dir + "/params.bin"));
        ck::CiphertextBundle b = ck::deserialize_bundle(*P, ck::read_file(dir + "/job.bin"));
        CHECK(b.get("packing_layout") == std::to_string(bt::train::kPackingLayout));
        b.set("packing_layout", "1");
        replace_file(dir + "/job.bin", ck::serialize(*P, b));
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("packed this job's data with layout 1"), std::runtime_error);
    }
    SUBCASE("the wrong file in a slot") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_kind");
        std::remove((dir + "/train.bin").c_str());
        REQUIRE(::link((ws.server + "/test.bin").c_str(), (dir + "/train.bin").c_str()) == 0);
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("expected a 'train-set'"), std::runtime_error);
    }
    SUBCASE("missing files say which role writes them") {
        const std::string dir = ws.root + "/empty";
        ::mkdir(dir.c_str(), 0700);
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("bt_train keygen"), std::runtime_error);
    }
}

}  // TEST_SUITE("roles")

TEST_SUITE("roles-slow") {

TEST_CASE("roles: walk-through (train as its own process, early stopping by file exchange) = one-process run") {
    NEED_WORKSPACE();
    if (!have_binary()) return;
    const std::string ex = ws.root + "/exchange", out = ws.root + "/walk";
    ::mkdir(ex.c_str(), 0700);
    // The server runs where only the server's files are.
    const pid_t srv = spawn({"train", "--server", ws.server, "--out", out, "--exchange", ex}, ws.root + "/train.log");
    std::ostringstream vlog;
    ValidateOptions vo;
    vo.client_dir = ws.client;
    vo.exchange_dir = ex;
    vo.timeout = 600;
    role_validate(vo, vlog);
    const int rc = wait_child(srv);
    INFO(slurp(ws.root + "/train.log"));
    INFO(vlog.str());
    REQUIRE(rc == 0);
    // What went back to the server: one word per epoch.
    for (const std::string f : {"decision-1.txt", "decision-2.txt"}) {
        const std::string s = slurp(ex + "/" + f);
        CHECK((s == "continue\n" || s == "stop\n"));
    }
    std::ostringstream log;
    DecryptOptions d;
    d.client_dir = ws.client;
    d.head_file = out + "/head.bin";
    d.out_file = ws.root + "/head_exact.safetensors";
    d.flooding = false;
    const DecryptResult exact = role_decrypt(d, log);
    d.flooding = true;
    d.flood_sigma = 1.0 / 256;  // only 2 copies per weight at N = 2^12 (32 at N = 2^16)
    d.out_file = ws.root + "/head_flooded.safetensors";
    const DecryptResult flooded = role_decrypt(d, log);
    // The flooding is there, and at the documented level (relative to the copies averaged).
    double fd = 0;
    for (std::size_t i = 0; i < exact.head.w.size(); ++i) fd = std::max(fd, std::fabs(exact.head.w[i] - flooded.head.w[i]));
    MESSAGE("CKKS noise per slot 2^" << std::log2(exact.noise_sigma) << "; flooding 2^" << std::log2(flooded.flood_sigma)
                                    << "; max change of a released weight " << fd);
    CHECK(fd > 0);
    CHECK(fd < 8 * flooded.flood_sigma);
    CHECK(flooded.flood_sigma > 256 * exact.noise_sigma);

    // The one-process pipeline on the same data, seed and parameters (real bootstrapping).
    RunConfig cfg = small_run_config();
    cfg.patience = 2;
    cfg.out_dir = ws.root + "/pipeline";
    std::ostringstream plog;
    const RunResult ref = run_pipeline(cfg, plog);
    double dw = 0;
    for (std::size_t i = 0; i < ref.twin.w.size(); ++i) dw = std::max(dw, std::fabs(ref.twin.w[i] - exact.head.w[i]));
    const double acc_exact = role_evaluate_head(ws.client, ws.root + "/head_exact.safetensors", log);
    const double acc_flooded = role_evaluate_head(ws.client, ws.root + "/head_flooded.safetensors", log);
    std::ostringstream ilog;
    role_infer(ws.server, out + "/head.bin", out + "/predictions.bin", ilog);
    const double acc_infer = role_evaluate_predictions(ws.client, out + "/predictions.bin", ilog);
    MESSAGE("roles vs one-process twin: max |dW| = " << dw << "; test accuracy roles " << acc_exact << " (flooded "
                                                     << acc_flooded << ", encrypted inference " << acc_infer
                                                     << "), pipeline encrypted " << ref.report.acc_encrypted << ", twin "
                                                     << ref.report.acc_twin);
    CHECK(dw < 2e-3);  // the same tolerance as encrypted vs twin in the pipeline tests
    CHECK(std::fabs(acc_exact - ref.report.acc_twin) <= 0.004);
    CHECK(std::fabs(acc_flooded - acc_exact) <= 0.006);
    CHECK(std::fabs(acc_infer - acc_exact) <= 0.004);
    CHECK(acc_exact > 0.6);  // chance 0.2
}

TEST_CASE("roles: killed at random points (also inside a checkpoint write), resumed: the same head, bit for bit") {
    NEED_WORKSPACE();
    if (!have_binary()) return;
    // Uninterrupted reference.
    const std::string ref = ws.root + "/ref", run = ws.root + "/killed", logp = ws.root + "/kill.log";
    REQUIRE(wait_child(spawn({"train", "--server", ws.server, "--out", ref}, logp)) == 0);
    // 1. Dies half-way through writing the checkpoint of step 2 (test hook).
    CHECK(wait_child(spawn({"train", "--server", ws.server, "--out", run}, logp, "BT_TEST_CRASH_IN_CHECKPOINT=2")) ==
          128 + SIGKILL);
    CHECK(exists(run + "/checkpoints/ckpt-00000002.bin.tmp"));
    CHECK(!exists(run + "/checkpoints/ckpt-00000002.bin"));
    CHECK(!exists(run + "/head.bin"));
    // 2. Resumed (from step 1) and killed again after a random time.
    std::mt19937 rng(std::random_device{}());
    for (int k = 0; k < 2; ++k) {
        const pid_t p = spawn({"train", "--server", ws.server, "--out", run, "--resume"}, logp);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500 + rng() % 6000));
        ::kill(p, SIGKILL);
        wait_child(p);
    }
    // 3. Resumed to the end.
    const int rc = wait_child(spawn({"train", "--server", ws.server, "--out", run, "--resume"}, logp));
    INFO(slurp(logp));
    REQUIRE(rc == 0);
    CHECK(slurp(logp).find("resuming from") != std::string::npos);
    const auto a = ck::read_file(ref + "/head.bin"), b = ck::read_file(run + "/head.bin");
    CHECK(a.size() == b.size());
    CHECK(a == b);
}

}  // TEST_SUITE("roles-slow")
