// Client and server as separate roles (src/app/roles.cpp), on the small insecure ring
// N12_test_boot with REAL bootstrapping (the server never has a secret key, so the
// stand-in cannot be used), the shipped model and Fashion-MNIST.
//   roles       bad input: each case refused with a message saying what was expected
//   roles-slow  the walk-through (train as a separate process, validate in this one)
//               against the one-process run: the same encrypted head, byte for byte
//               (both derive their keys and encryptions from one known test seed);
//               kill-and-resume bit equality
// One key set and one encrypted data set are made once per test process (~20 s) and
// shared; cases that damage files work on hard-linked copies.
#include "doctest/doctest.h"

#include "app_test_util.hpp"
#include "bt/app/roles.hpp"
#include "bt/app/run.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/hash.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <ftw.h>
#include <random>
#include <sstream>
#include <thread>

using namespace bt::app;
namespace ck = bt::ckks;
using bt::read_file;
using bt_test::file_exists;
using bt_test::slurp;
using bt_test::spawn;
using bt_test::wait_child;

namespace {

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

// Set files (bt/app/sets.hpp): the header bundle, and a copy with one header field changed
// (offsets and index checksum recomputed, as a crafting server would).
std::uint64_t le64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
    return v;
}
void put_le64(std::vector<std::uint8_t>& b, std::uint64_t v) {
    for (int k = 0; k < 8; ++k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
}
ck::CiphertextBundle read_set_header(const ck::Params& P, const std::string& path) {
    const auto bytes = read_file(path);
    const std::uint64_t hlen = le64(bytes.data() + 8);
    return ck::deserialize_bundle(P, std::vector<std::uint8_t>(bytes.begin() + 16, bytes.begin() + 16 + static_cast<long>(hlen)));
}
void rewrite_set_header(const ck::Params& P, const std::string& path, const std::string& key, const std::string& value) {
    const auto bytes = read_file(path);
    const std::uint64_t hlen = le64(bytes.data() + 8);
    ck::CiphertextBundle h = read_set_header(P, path);
    h.set(key, value);
    const auto hb = ck::serialize(P, h);
    const std::uint64_t batches = le64(bytes.data() + bytes.size() - 24);
    const std::size_t ilen = static_cast<std::size_t>(batches) * 24, body_end = bytes.size() - 24 - ilen;
    std::vector<std::uint8_t> out(bytes.begin(), bytes.begin() + 8);
    put_le64(out, hb.size());
    out.insert(out.end(), hb.begin(), hb.end());
    out.insert(out.end(), bytes.begin() + 16 + static_cast<long>(hlen), bytes.begin() + static_cast<long>(body_end));
    std::vector<std::uint8_t> idx;
    const std::int64_t shift = static_cast<std::int64_t>(hb.size()) - static_cast<std::int64_t>(hlen);
    for (std::uint64_t k = 0; k < batches; ++k) {
        const std::uint8_t* e = bytes.data() + body_end + k * 24;
        put_le64(idx, static_cast<std::uint64_t>(static_cast<std::int64_t>(le64(e)) + shift));
        put_le64(idx, le64(e + 8));
        put_le64(idx, le64(e + 16));
    }
    const std::uint64_t sum = bt::fnv1a64(idx.data(), idx.size());
    put_le64(idx, batches);
    put_le64(idx, sum);
    idx.insert(idx.end(), bytes.end() - 8, bytes.end());
    out.insert(out.end(), idx.begin(), idx.end());
    replace_file(path, out);
}

RunConfig small_run_config() { return bt_test::small_roles_config(); }

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
        if (!bt_test::have_data()) return w;
        char tmpl[] = "/tmp/bt_roles_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        w.root = tmpl;
        w.client = w.root + "/client";
        w.server = w.root + "/server";
        RoleDirs dirs{w.client, w.server};
        std::ostringstream log;
        role_keygen(small_run_config(), dirs, log);
        role_encrypt(small_run_config(), dirs, log);
        w.ok = true;
        return w;
    }();
    return ws;
}

bool have_binary() {
    if (bt_test::have_program("bt_train")) return true;
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
        const auto bytes = read_file(ws.server + "/" + f);
        if (bytes.size() >= 8 && std::memcmp(bytes.data(), "BTSET", 5) == 0) continue;  // data sets: ciphertexts only
        if (bytes.size() >= ck::kHeaderBytes) CHECK(ck::peek_header(bytes).type != ck::ObjectType::SecretKey);
    }
    CHECK_NOTHROW(check_no_secret_key(ws.server));
    struct stat st {};
    REQUIRE(::stat(ws.client.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);  // the client directory and its secret key are private
    REQUIRE(::stat((ws.client + "/secret.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    // Under its own name, and renamed.
    for (const std::string name : {"secret.key", "notes.bin"}) {
        const std::string dir = link_copy(ws.server, ws.root + "/with_sk_" + name);
        REQUIRE(::link((ws.client + "/secret.key").c_str(), (dir + "/" + name).c_str()) == 0);
        TrainRoleOptions o;
        o.server_dir = dir;
        o.allow_insecure = true;
        std::ostringstream log;
        CHECK_THROWS_WITH_AS(role_train(o, log), doctest::Contains("secret key"), UsageError);
        CHECK_THROWS_WITH_AS(role_infer(dir, dir + "/head.bin", dir + "/p.bin", true, log),
                             doctest::Contains("secret key"), UsageError);
    }
    if (have_binary()) {  // and the command line refuses the flag outright
        const std::string logp = ws.root + "/flag.log";
        CHECK(wait_child(spawn("bt_train", {"train", "--server", ws.server, "--secret-key", ws.client + "/secret.key"}, logp)) == 2);
        CHECK(slurp(logp).find("never hold the secret key") != std::string::npos);
    }
}

TEST_CASE("roles: bad server inputs are refused with what was expected and found") {
    NEED_WORKSPACE();
    std::ostringstream log;
    auto train_in = [&](const std::string& dir) {
        TrainRoleOptions o;
        o.server_dir = dir;
        o.out_dir = dir + "/out";
        o.allow_insecure = true;
        role_train(o, log);
    };
    SUBCASE("parameters of another preset (keys and job made for other parameters)") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_params");
        replace_file(dir + "/params.bin", ck::serialize(*ck::preset("N12_test")));
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("made for other CKKS parameters"));
    }
    SUBCASE("a rotation key the plan needs is missing") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_rot");
        const auto P = ck::deserialize_params(read_file(dir + "/params.bin"));
        ck::GaloisKeys gk = ck::deserialize_galois_keys(*P, read_file(dir + "/galois-train.key"));
        gk.keys.erase(std::next(gk.keys.begin(), static_cast<long>(gk.keys.size() / 2)));
        replace_file(dir + "/galois-train.key", ck::serialize(*P, gk));
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("no key for rotation step"));
    }
    SUBCASE("truncated and corrupted ciphertext files") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_ct");
        auto bytes = read_file(dir + "/train.bin");
        replace_file(dir + "/train.bin", std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 3)));
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("truncated"));
        bytes[bytes.size() / 2] ^= 0x10;
        replace_file(dir + "/train.bin", bytes);
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("corrupt"));
    }
    SUBCASE("a set file whose index or header length lies") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_index");
        const auto orig = read_file(dir + "/train.bin");
        const std::size_t n = orig.size();
        const std::uint64_t batches = le64(orig.data() + n - 24);
        const std::size_t idx = n - 24 - static_cast<std::size_t>(batches) * 24;
        // Rewrites index entry k's field f (0 offset, 1 length, 2 rows), checksum repaired.
        auto with_entry = [&](std::size_t k, int f, std::uint64_t v) {
            auto b = orig;
            for (int i = 0; i < 8; ++i) b[idx + k * 24 + static_cast<std::size_t>(f) * 8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
            const std::uint64_t sum = bt::fnv1a64(b.data() + idx, static_cast<std::size_t>(batches) * 24);
            for (int i = 0; i < 8; ++i) b[n - 16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(sum >> (8 * i));
            return b;
        };
        REQUIRE(batches >= 2);
        auto b = orig;
        b[idx + 3] ^= 1;  // an index byte, checksum not repaired
        replace_file(dir + "/train.bin", b);
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("index checksum mismatch"));
        replace_file(dir + "/train.bin", with_entry(1, 0, le64(orig.data() + idx + 24) + 8));  // a gap
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("batch 1 at offset"));
        replace_file(dir + "/train.bin", with_entry(0, 1, std::uint64_t{1} << 40));  // a record of 1 TiB
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("at most"));
        replace_file(dir + "/train.bin", with_entry(0, 2, 0));  // no rows
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("has 0 rows"));
        b = orig;
        for (int i = 0; i < 8; ++i) b[8 + static_cast<std::size_t>(i)] = 0xff;  // header length 2^64 - 1
        replace_file(dir + "/train.bin", b);
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("beyond the file"));
        b = orig;
        for (int i = 0; i < 8; ++i) b[n - 24 + static_cast<std::size_t>(i)] = 0xff;  // 2^64 - 1 batches
        replace_file(dir + "/train.bin", b);
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("disagree on the number of batches"));
    }
    SUBCASE("a data set whose shape differs from the plan") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_shape");
        const auto P = ck::deserialize_params(read_file(dir + "/params.bin"));
        rewrite_set_header(*P, dir + "/train.bin", "d", "200");
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("shape differs from the plan"));
    }
    SUBCASE("a data set or head of another job") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_job");
        const auto P = ck::deserialize_params(read_file(dir + "/params.bin"));
        rewrite_set_header(*P, dir + "/val.bin", "job_id", "0123456789abcdef");
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("made for job 0123456789abcdef"));
    }
    SUBCASE("a job packed with another layout (an older client)") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_layout");
        const auto P = ck::deserialize_params(read_file(dir + "/params.bin"));
        ck::CiphertextBundle b = ck::deserialize_bundle(*P, read_file(dir + "/job.bin"));
        CHECK(b.get("packing_layout") == std::to_string(bt::train::kPackingLayout));
        b.set("packing_layout", "1");
        replace_file(dir + "/job.bin", ck::serialize(*P, b));
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("packed this job's data with layout 1"));
    }
    SUBCASE("the wrong file in a slot") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_kind");
        std::remove((dir + "/train.bin").c_str());
        REQUIRE(::link((ws.server + "/test.bin").c_str(), (dir + "/train.bin").c_str()) == 0);
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("expected a 'train-set'"));
    }
    SUBCASE("missing files say which role writes them") {
        const std::string dir = ws.root + "/empty";
        ::mkdir(dir.c_str(), 0700);
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("bt_train keygen"));
    }
}

TEST_CASE("roles: the client refuses crafted server outputs before it releases or uses anything") {
    NEED_WORKSPACE();
    if (!have_binary()) return;
    // A real head to start from: one short training run of the server.
    static const std::string head_dir = [&] {
        const std::string dir = ws.root + "/crafted_base";
        std::ostringstream log;
        TrainRoleOptions o;
        o.server_dir = ws.server;
        o.out_dir = dir;
        o.epochs = 1;
        o.allow_insecure = true;
        role_train(o, log);
        return dir;
    }();
    const auto P = ck::deserialize_params(read_file(ws.server + "/params.bin"));
    const ck::CiphertextBundle good = ck::deserialize_bundle(*P, read_file(head_dir + "/head.bin"));
    REQUIRE(good.cts.size() == 1);
    const ck::Ciphertext& h = good.cts[0];
    auto decrypt_crafted = [&](const ck::CiphertextBundle& b) {
        const std::string path = ws.root + "/crafted_head.bin";
        bt::write_file_atomic(path, ck::serialize(*P, b));
        DecryptOptions d;
        d.client_dir = ws.client;
        d.head_file = path;
        d.out_file = ws.root + "/crafted.safetensors";
        d.allow_insecure = true;
        std::ostringstream log;
        std::remove(d.out_file.c_str());
        CHECK_THROWS_WITH(role_decrypt(d, log), doctest::Contains(path.c_str()));
        CHECK_FALSE(file_exists(d.out_file));  // nothing released
    };
    auto with = [&](const ck::Ciphertext& ct) {
        ck::CiphertextBundle b = good;
        b.cts = {ct};
        b.seeds = {std::nullopt};
        return b;
    };
    SUBCASE("the genuine head is accepted") {
        DecryptOptions d;
        d.client_dir = ws.client;
        d.head_file = head_dir + "/head.bin";
        d.out_file = ws.root + "/genuine.safetensors";
        d.allow_insecure = true;
        std::ostringstream log;
        CHECK_NOTHROW(role_decrypt(d, log));
    }
    SUBCASE("other slot counts") {
        for (std::size_t slots : {std::size_t{2}, std::size_t{1024}}) {
            ck::Ciphertext c = h;
            c.slots = slots;
            decrypt_crafted(with(c));
        }
    }
    SUBCASE("another level, another scale, three parts") {
        ck::Ciphertext c = h;
        c.scale *= 2;
        decrypt_crafted(with(c));
        ck::Ciphertext t = h;
        t.parts.push_back(t.parts[1]);
        decrypt_crafted(with(t));
        ck::Ciphertext l = h;
        l.level -= 1;
        for (auto& part : l.parts) part.data.resize(part.data.size() - P->N());
        decrypt_crafted(with(l));
    }
    SUBCASE("(c0, c1) = (0, k): a decryption linear in the secret key, at the right level and scale") {
        // k·s decodes to slots of size ~k·sqrt(N)/Δ with imaginary parts of the same size:
        // refused down to k = Δ/2^16 here (2^-10 of imaginary part). Smaller k puts less than
        // 2^-10 of s into each slot, under the flooding noise (2^-6) by 2^4 and more.
        for (double k : {h.scale / 256, h.scale / 65536}) {
            ck::Ciphertext c = h;
            for (std::size_t i = 0; i <= c.level; ++i) {
                const std::uint64_t q = P->q(i);
                const std::uint64_t kv = static_cast<std::uint64_t>(std::fmod(std::floor(k), static_cast<double>(q)));
                for (std::size_t j = 0; j < P->N(); ++j) {
                    c.parts[0].limb(i)[j] = 0;
                    c.parts[1].limb(i)[j] = kv;  // a constant polynomial is constant in NTT form too
                }
            }
            decrypt_crafted(with(c));
        }
    }
    SUBCASE("a head of another data set, and validation and prediction files") {
        ck::CiphertextBundle b = good;
        b.set("data_id", "0123456789abcdef");
        decrypt_crafted(b);
        ck::Ciphertext c = h;
        c.slots = 2;
        ck::CiphertextBundle v;
        v.set("kind", "predictions");
        v.set("job_id", good.get("job_id"));
        const ClientKeys cl = load_client(ws.client, true);
        const ClientState st = load_client_state(cl, ws.client);
        v.set("data_id", hex64(st.data_id));
        const std::size_t batches = (st.test_labels.size() + cl.plan.sh.blocks * cl.plan.sh.s0 - 1) /
                                    (cl.plan.sh.blocks * cl.plan.sh.s0);
        for (std::size_t k = 0; k < batches; ++k) v.add(c);
        const std::string pred = ws.root + "/crafted_predictions.bin";
        bt::write_file_atomic(pred, ck::serialize(*P, v));
        std::ostringstream log;
        CHECK_THROWS_WITH(role_evaluate_predictions(ws.client, pred, true, log), doctest::Contains(pred.c_str()));
    }
}

TEST_CASE("roles: keygen --prefer speed plans the weights' own sparse bootstrapping; train runs it; the head decrypts") {
    if (!bt_test::have_data()) return;
    char tmpl[] = "/tmp/bt_roles_speed_XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    Workspace w;
    w.root = tmpl;
    w.client = w.root + "/client";
    w.server = w.root + "/server";
    RoleDirs dirs{w.client, w.server};
    RunConfig cfg = small_run_config();
    cfg.prefer_speed = true;
    cfg.max_memory = std::size_t{64} << 30;
    cfg.epochs = 1;
    std::ostringstream log;
    role_keygen(cfg, dirs, log);
    INFO(log.str());
    CHECK(log.str().find("one DFT key per giant step and the weights' own sparse bootstrapping") != std::string::npos);
    const auto P = ck::deserialize_params(read_file(w.server + "/params.bin"));
    const Job job = Job::from(ck::deserialize_bundle(*P, read_file(w.server + "/job.bin")), "job.bin");
    CHECK(job.sparse_weights);
    CHECK(job.boot_fast_keys);
    role_encrypt(cfg, dirs, log);
    TrainRoleOptions o;
    o.server_dir = w.server;
    o.epochs = 1;
    o.allow_insecure = true;
    role_train(o, log);
    DecryptOptions d;
    d.client_dir = w.client;
    d.head_file = w.server + "/head.bin";
    d.out_file = w.root + "/head.safetensors";
    d.allow_insecure = true;
    CHECK_NOTHROW(role_decrypt(d, log));  // the release checks the tiled layout to 2^-10
    CHECK(file_exists(d.out_file));
}

TEST_CASE("roles: a client state whose standardisation does not match the job is refused") {
    NEED_WORKSPACE();
    const std::string dir = link_copy(ws.client, ws.root + "/bad_state");
    const auto P = ck::deserialize_params(read_file(dir + "/params.bin"));
    ck::CiphertextBundle b = ck::deserialize_bundle(*P, read_file(dir + "/client.bin"));
    b.set("norm_mean", "0x1p+0,0x1p+0,0x1p+0");
    replace_file(dir + "/client.bin", ck::serialize(*P, b));
    const ClientKeys cl = load_client(dir, true);
    CHECK_THROWS_WITH(load_client_state(cl, dir), doctest::Contains("the feature standardisation has 3"));
}

TEST_CASE("roles: smaller holes closed (secret keys anywhere, files named, checkpoints and jobs checked)") {
    NEED_WORKSPACE();
    std::ostringstream log;
    auto train_in = [&](const std::string& dir, const std::string& out = "", bool resume = false) {
        TrainRoleOptions o;
        o.server_dir = dir;
        o.out_dir = out.empty() ? dir + "/out" : out;
        o.allow_insecure = true;
        o.resume = resume;
        o.epochs = 1;
        role_train(o, log);
    };
    SUBCASE("a secret key in a subdirectory, gzip-compressed, or in the output directory") {
        const std::string dir = link_copy(ws.server, ws.root + "/sk_sub");
        ::mkdir((dir + "/a").c_str(), 0700);
        ::mkdir((dir + "/a/b").c_str(), 0700);
        REQUIRE(::link((ws.client + "/secret.key").c_str(), (dir + "/a/b/notes").c_str()) == 0);
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("a/b/notes"), UsageError);
        const std::string dir2 = link_copy(ws.server, ws.root + "/sk_gz");
        const auto sk = read_file(ws.client + "/secret.key");
        std::vector<std::uint8_t> gz = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1,
                                        static_cast<std::uint8_t>(sk.size() & 0xff), static_cast<std::uint8_t>(sk.size() >> 8),
                                        static_cast<std::uint8_t>(~sk.size() & 0xff), static_cast<std::uint8_t>((~sk.size() >> 8) & 0xff)};
        REQUIRE(sk.size() < 65536);
        gz.insert(gz.end(), sk.begin(), sk.end());  // one stored block; the trailer does not matter here
        for (int k = 0; k < 8; ++k) gz.push_back(0);
        replace_file(dir2 + "/backup.gz", gz);
        CHECK_THROWS_WITH_AS(train_in(dir2), doctest::Contains("backup.gz"), UsageError);
        const std::string out = ws.root + "/sk_out";
        ::mkdir(out.c_str(), 0700);
        REQUIRE(::link((ws.client + "/secret.key").c_str(), (out + "/k").c_str()) == 0);
        CHECK_THROWS_WITH_AS(train_in(ws.server, out), doctest::Contains("sk_out/k"), UsageError);
    }
    SUBCASE("a corrupt key file is named in the refusal") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_relin");
        auto bytes = read_file(dir + "/relin.key");
        bytes[bytes.size() / 2] ^= 1;
        replace_file(dir + "/relin.key", bytes);
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains((dir + "/relin.key").c_str()));
    }
    SUBCASE("a job with a huge integer is refused, not narrowed") {
        const std::string dir = link_copy(ws.server, ws.root + "/bad_job_int");
        const auto P = ck::deserialize_params(read_file(dir + "/params.bin"));
        ck::CiphertextBundle b = ck::deserialize_bundle(*P, read_file(dir + "/job.bin"));
        b.set("exp_degree", "4294967311");  // 2^32 + 15: 15 after a narrowing cast
        replace_file(dir + "/job.bin", ck::serialize(*P, b));
        CHECK_THROWS_WITH(train_in(dir), doctest::Contains("exp_degree = 4294967311 is above 1023"));
    }
    // A bootstrapping choice of the job: keygen's default (--prefer memory), an unknown value
    // refused, the faster value read, and a bundle without its keys refused by the server.
    auto job_choice = [&](const char* key, const char* dflt, const char* fast, bool Job::*flag, const char* dir_name) {
        const auto P = ck::deserialize_params(read_file(ws.server + "/params.bin"));
        ck::CiphertextBundle b = ck::deserialize_bundle(*P, read_file(ws.server + "/job.bin"));
        CHECK(b.get(key) == dflt);
        CHECK_FALSE(Job::from(b, "job.bin").*flag);
        b.set(key, "fast");
        CHECK_THROWS_WITH(Job::from(b, "job.bin"), doctest::Contains((std::string(key) + " = 'fast'").c_str()));
        b.set(key, fast);
        CHECK(Job::from(b, "job.bin").*flag);
        const std::string dir = link_copy(ws.server, ws.root + "/" + dir_name);
        replace_file(dir + "/job.bin", ck::serialize(*P, b));
        CHECK_THROWS_WITH_AS(train_in(dir), doctest::Contains("which bootstrapping needs"), UsageError);
    };
    SUBCASE("the job's DFT key form: an unknown value is refused; per-giant-step keys the bundle lacks are named") {
        job_choice("bootstrap_dft_keys", "horner", "per-giant-step", &Job::boot_fast_keys, "fast_keys_job");
    }
    SUBCASE("the job's weights bootstrap: an unknown value is refused; a sparse one whose keys the bundle lacks is named") {
        job_choice("weights_bootstrap", "full", "sparse-tile", &Job::sparse_weights, "sparse_weights_job");
    }
    SUBCASE("a checkpoint the plan cannot have produced is skipped like an unreadable one") {
        const std::string out = ws.root + "/ckpt_bad";
        const auto P = ck::deserialize_params(read_file(ws.server + "/params.bin"));
        const Job job = Job::from(ck::deserialize_bundle(*P, read_file(ws.server + "/job.bin")), "job.bin");
        const ck::CiphertextBundle tb = read_set_header(*P, ws.server + "/train.bin");
        TrainState st;
        st.step = 1;
        st.next_batch = 1;
        st.w = zero_ciphertext(*P, 3);  // not a level any step leaves
        st.v = st.w;
        write_checkpoint(*P, out + "/checkpoints", job, parse_hex64(tb.get("data_id"), "train.bin"), st, nullptr);
        train_in(ws.server, out, true);
        CHECK(log.str().find("skipping checkpoint") != std::string::npos);
        CHECK(log.str().find("starting from the beginning") != std::string::npos);
        CHECK(file_exists(out + "/head.bin"));
    }
    SUBCASE("a released head of non-finite weights is refused") {
        const std::string head = ws.root + "/nan_head.safetensors";
        std::vector<float> w(5 * 120, std::nanf("")), b(5, 0.0f), mu(120, 0.0f), is(120, 1.0f);
        bt::nn::write_safetensors(head,
                                  {{"head.weight", {5, 120}, w.data()}, {"head.bias", {5}, b.data()},
                                   {"normalizer.mean", {120}, mu.data()}, {"normalizer.inv_std", {120}, is.data()}},
                                  {{"format", "bt-head"}, {"job_id", "0"}, {"classes", "5,6,7,8,9"},
                                   {"class_names", "[]"}, {"model", bt_test::kModel}, {"gain", "0.5"},
                                   {"flooding_sigma", "none"}, {"data", bt_test::kData}, {"test_size", "10"}});
        CHECK_THROWS_WITH(role_evaluate_head(head, "", "", log), doctest::Contains("not a finite number"));
    }
}

}  // TEST_SUITE("roles")

TEST_SUITE("roles-slow") {

TEST_CASE("roles: the server's expanded key cache is built once, mapped after, rebuilt when stale or corrupt; "
          "mapped keys train the same head as loaded keys, bit for bit") {
    NEED_WORKSPACE();
    const std::string dir = link_copy(ws.server, ws.root + "/key_cache");
    const std::string cache = dir + "/eval-keys.cache";
    std::remove(cache.c_str());
    const auto P = ck::deserialize_params(read_file(dir + "/params.bin"));
    auto train = [&](const std::string& key_cache, std::string& log_text) {
        std::ostringstream log;
        TrainRoleOptions o;
        o.server_dir = dir;
        o.out_dir = dir + "/out";
        o.allow_insecure = true;
        o.epochs = 1;
        o.key_cache = key_cache;
        role_train(o, log);
        log_text = log.str();
        return read_file(dir + "/out/head.bin");
    };
    std::string log;
    const std::vector<std::uint8_t> loaded = train("", log);
    CHECK(log.find("key cache") == std::string::npos);
    CHECK_FALSE(file_exists(cache));
    CHECK(train("-", log) == loaded);
    INFO(log);
    CHECK(log.find("key cache: building " + cache) != std::string::npos);
    CHECK(log.find("key cache: wrote") != std::string::npos);
    REQUIRE(file_exists(cache));
    CHECK(train("-", log) == loaded);
    CHECK(log.find("key cache: mapped " + cache) != std::string::npos);
    // A bit flipped in the middle of the key words: refused, rebuilt, the same head.
    std::vector<std::uint8_t> b = read_file(cache);
    b[b.size() / 2] ^= 4;
    replace_file(cache, b);
    CHECK(train("-", log) == loaded);
    CHECK(log.find("refused") != std::string::npos);
    CHECK(log.find("checksum mismatch") != std::string::npos);
    CHECK(log.find("rebuilding") != std::string::npos);
    // A key file written again (new file, same bytes): the cache is stale, and rebuilt.
    replace_file(dir + "/galois-train.key", read_file(dir + "/galois-train.key"));
    CHECK(train("-", log) == loaded);
    CHECK(log.find("stale") != std::string::npos);
    CHECK(train("-", log) == loaded);
    CHECK(log.find("key cache: mapped") != std::string::npos);
    // Inference maps the same cache (it needs only part of it) and predicts as with loaded keys.
    std::ostringstream ilog, ilog2;
    role_infer(dir, dir + "/out/head.bin", dir + "/pred_mapped.bin", true, ilog);
    CHECK(ilog.str().find("key cache: mapped") != std::string::npos);
    role_infer(dir, dir + "/out/head.bin", dir + "/pred_loaded.bin", true, ilog2, "");
    CHECK(read_file(dir + "/pred_mapped.bin") == read_file(dir + "/pred_loaded.bin"));
    // An explicit cache path elsewhere, and an unwritable one (the keys stay in memory).
    CHECK(train(ws.root + "/elsewhere.cache", log) == loaded);
    CHECK(file_exists(ws.root + "/elsewhere.cache"));
    std::remove((ws.root + "/elsewhere.cache").c_str());
    CHECK(train("/proc/no_such_dir/x.cache", log) == loaded);
    CHECK(log.find("keys stay in memory") != std::string::npos);
}

TEST_CASE("roles: walk-through (train as its own process, early stopping by file exchange) = one-process run, "
          "byte for byte") {
    NEED_WORKSPACE();
    if (!have_binary()) return;
    const std::string ex = ws.root + "/exchange", out = ws.root + "/walk";
    ::mkdir(ex.c_str(), 0700);
    // The server runs where only the server's files are.
    // --stream-data: the training set is read a batch at a time (the one-process run below
    // keeps it in memory; both give the same head).
    const pid_t srv = spawn("bt_train", {"train", "--server", ws.server, "--out", out, "--exchange", ex,
                                         "--stream-data", "--allow-insecure"},
                            ws.root + "/train.log");
    std::ostringstream vlog;
    ValidateOptions vo;
    vo.client_dir = ws.client;
    vo.exchange_dir = ex;
    vo.timeout = 600;
    vo.allow_insecure = true;
    role_validate(vo, vlog);
    const int rc = wait_child(srv);
    INFO(slurp(ws.root + "/train.log"));
    INFO(vlog.str());
    REQUIRE(rc == 0);
    // The server mapped its keys from the expanded key cache (built by this run or an earlier
    // test's); the head below equals the one-process run's, which holds its keys in memory.
    CHECK(slurp(ws.root + "/train.log").find("key cache: ") != std::string::npos);
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
    d.allow_insecure = true;
    const ReleasedHead exact = role_decrypt(d, log);
    d.flooding = true;
    d.flood_sigma = 1.0 / 256;  // only 2 copies per weight at N = 2^12 (32 at N = 2^16)
    d.out_file = ws.root + "/head_flooded.safetensors";
    const ReleasedHead flooded = role_decrypt(d, log);
    // The flooding is there, and at the documented level (relative to the copies averaged).
    double fd = 0;
    for (std::size_t i = 0; i < exact.head.w.size(); ++i) fd = std::max(fd, std::fabs(exact.head.w[i] - flooded.head.w[i]));
    MESSAGE("CKKS noise per slot 2^" << std::log2(exact.noise_sigma) << "; flooding 2^" << std::log2(flooded.flood_sigma)
                                    << "; max change of a released weight " << fd);
    CHECK(fd > 0);
    CHECK(fd < 8 * flooded.flood_sigma);
    CHECK(flooded.flood_sigma > 256 * exact.noise_sigma);

    // The one-process run with the same options and the same (test) seed: the same flow with
    // in-memory hand-offs gives the same encrypted head, word for word.
    RunConfig cfg = small_run_config();
    cfg.patience = 2;
    cfg.flooding = false;
    cfg.out_dir = ws.root + "/one_process";
    std::ostringstream plog;
    const RunResult ref = run_one_process(cfg, plog);
    INFO(plog.str());
    const auto P = ck::deserialize_params(read_file(ws.server + "/params.bin"));
    const ck::CiphertextBundle head = ck::deserialize_bundle(*P, read_file(out + "/head.bin"));
    REQUIRE(head.cts.size() == 1);
    CHECK(ck::serialize(*P, head.cts[0]) == ck::serialize(*P, ref.head));
    CHECK(exact.head.w == ref.unflooded.w);
    double dw = 0;
    for (std::size_t i = 0; i < ref.twin.w.size(); ++i) dw = std::max(dw, std::fabs(ref.twin.w[i] - exact.head.w[i]));
    const double acc_exact = role_evaluate_head(ws.root + "/head_exact.safetensors", "", "", log).accuracy;
    const double acc_flooded = role_evaluate_head(ws.root + "/head_flooded.safetensors", "", "", log).accuracy;
    const double acc_one = role_evaluate_head(cfg.out_dir + "/head.safetensors", "", "", log).accuracy;
    std::ostringstream ilog;
    role_infer(ws.server, out + "/head.bin", out + "/predictions.bin", true, ilog);
    const double acc_infer = role_evaluate_predictions(ws.client, out + "/predictions.bin", true, ilog);
    MESSAGE("roles vs one-process twin: max |dW| = " << dw << "; test accuracy roles " << acc_exact << " (flooded "
                                                     << acc_flooded << ", encrypted inference " << acc_infer
                                                     << "), one-process " << acc_one << ", twin " << ref.report.acc_twin);
    CHECK(acc_one == acc_exact);
    CHECK(acc_one == ref.report.acc_encrypted);
    CHECK(dw < 2e-3);  // the same tolerance as encrypted vs twin in the run tests
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
    REQUIRE(wait_child(spawn("bt_train", {"train", "--server", ws.server, "--out", ref, "--allow-insecure"}, logp)) == 0);
    // 1. Dies half-way through writing the checkpoint of step 2 (test hook).
    CHECK(wait_child(spawn("bt_train", {"train", "--server", ws.server, "--out", run, "--allow-insecure"}, logp,
                           {"BT_TEST_CRASH_IN_CHECKPOINT=2"})) == 128 + SIGKILL);
    const auto left = list_dir(run + "/checkpoints");
    CHECK(std::any_of(left.begin(), left.end(),
                      [](const std::string& f) { return f.rfind("ckpt-00000002.bin.tmp.", 0) == 0; }));
    CHECK(!file_exists(run + "/checkpoints/ckpt-00000002.bin"));
    CHECK(!file_exists(run + "/head.bin"));
    // 2. Resumed (from step 1) and killed again after a random time.
    std::mt19937 rng(std::random_device{}());
    for (int k = 0; k < 2; ++k) {
        const pid_t p = spawn("bt_train", {"train", "--server", ws.server, "--out", run, "--resume", "--allow-insecure"}, logp);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500 + rng() % 6000));
        ::kill(p, SIGKILL);
        wait_child(p);
    }
    // 3. Resumed to the end.
    const int rc = wait_child(spawn("bt_train", {"train", "--server", ws.server, "--out", run, "--resume", "--allow-insecure"}, logp));
    INFO(slurp(logp));
    REQUIRE(rc == 0);
    CHECK(slurp(logp).find("resuming from") != std::string::npos);
    const auto a = read_file(ref + "/head.bin"), b = read_file(run + "/head.bin");
    CHECK(a.size() == b.size());
    CHECK(a == b);
}

}  // TEST_SUITE("roles-slow")
