// The programs as a user runs them: every refusal exits 2 with a message saying what was
// expected, what was found and what to do, before anything is computed; help and version
// on every program and command; the one-process run killed and resumed gives the same head.
#include "doctest/doctest.h"

#include "app_test_util.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/os.hpp"

#include <chrono>
#include <csignal>
#include <thread>

using bt_test::file_exists;
using bt_test::run_program;
using bt_test::TempDir;

namespace {

#define NEED_PROGRAMS()                                                                               \
    if (!bt_test::have_program("bt_train") || !bt_test::have_data()) {                                 \
        MESSAGE("skipped: ./bt_train, Fashion-MNIST or the shipped model not found (make test builds " \
                "the programs; run from the repository root)");                                        \
        return;                                                                                        \
    }

// A refusal: exit status 2, the message, and no sign of work (no features, no keys, no output directory).
void refused(const std::vector<std::string>& args, const std::string& message, const std::string& out_dir) {
    const bt_test::ProcResult r = run_program("bt_train", args);
    INFO("bt_train args: " << [&] { std::string s; for (const auto& a : args) s += a + " "; return s; }());
    INFO(r.out);
    CHECK(r.rc == 2);
    CHECK(r.out.find(message) != std::string::npos);
    CHECK(r.out.find("features:") == std::string::npos);
    CHECK(r.out.find("keys:") == std::string::npos);
    CHECK_FALSE(file_exists(out_dir));
}

}  // namespace

TEST_SUITE("app") {

TEST_CASE("cli: every refusal exits 2 with what was expected, before any work") {
    NEED_PROGRAMS();
    TempDir tmp;
    const std::string out = tmp.str() + "/out";
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--batch", "18446744073709551615", "--plan"}, "--batch expects a whole number from 1 to"},
        {{"--lr", "inf"}, "--lr expects a finite number above 0"},
        {{"--lr", "nan"}, "--lr expects a finite number above 0"},
        {{"--lr", "-1"}, "--lr expects a finite number above 0"},
        {{"--gain", "1e999"}, "--gain expects a finite number"},
        {{"--classes", "5,99"}, "class 99 has no training images"},
        {{"--classes", "5,5"}, "listed twice"},
        {{"--classes", "5"}, "at least two labels"},
        {{"--classes", "5,-1"}, "--classes expects a whole number from 0 to 255"},
        {{"--threads", "3000"}, "--threads expects a whole number from 1 to 1024"},
        {{"--threads"}, "--threads needs a value"},
        {{"--threads", "abc"}, "--threads expects a whole number"},
        {{"--epochs", "0"}, "--epochs expects a whole number from 1"},
        {{"--train", "99999999999999999999"}, "--train expects a whole number"},
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"--lr", "1", "--lr", "2"}, "--lr is given twice"},
        {{"--preset", "N99_nope"}, "unknown CKKS preset 'N99_nope'"},
        {{"--preset", "N12_test_boot"}, "INSECURE"},
        {{"--model", "/nonexistent.safetensors"}, "model /nonexistent.safetensors not found"},
        {{"--model", "README.md"}, "model README.md cannot be used"},
        {{"--data", "/nonexistent"}, "data directory /nonexistent not found"},
        {{"--preset", "N12_test_boot", "--allow-insecure", "--batch", "4096"}, "largest batch"},
        {{"--train", "40000"}, "exceed the"},
        {{"--max-memory", "1G"}, "exceeds --max-memory"},
        {{"--max-memory", "12X"}, "--max-memory expects a size"},
        {{"--prefer", "fast"}, "--prefer expects 'speed' or 'memory'"},
        {{"--no-flooding", "--flood-sigma", "0.1"}, "contradict"},
    };
    for (const auto& [args, message] : cases) {
        std::vector<std::string> a = {"--out", out};
        a.insert(a.end(), args.begin(), args.end());
        refused(a, message, out);
    }
    refused({"frobnicate", "--out", out}, "unknown command 'frobnicate'", out);
    // An output directory that cannot be made: refused before the features too.
    refused({"--out", "/proc/bt_cannot/out"}, "output directory --out /proc/bt_cannot/out is not usable",
            "/proc/bt_cannot/out");
    // The refused forecast names the alternatives.
    const bt_test::ProcResult r = run_program("bt_train", {"--max-memory", "2G", "--out", out});
    CHECK(r.out.find("--insecure-sk-bootstrap") != std::string::npos);
    CHECK(r.out.find("--force") != std::string::npos);
}

TEST_CASE("cli: --plan prints the plan and a resource forecast and computes nothing") {
    NEED_PROGRAMS();
    TempDir tmp;
    const bt_test::ProcResult r = run_program("bt_train", {"--plan", "--out", tmp.str() + "/out"});
    INFO(r.out);
    CHECK(r.rc == 0);
    for (const char* s : {"level plan", "rotation keys for training", "forecast: 4 steps (2 epochs), 10 bootstraps",
                          "peak memory", "forecast: time", "memory: forecast peak"})
        CHECK(r.out.find(s) != std::string::npos);
    CHECK(r.out.find("features:") == std::string::npos);
    CHECK_FALSE(file_exists(tmp.str() + "/out"));
}

TEST_CASE("cli: help for every command, --version on every program") {
    NEED_PROGRAMS();
    for (const std::string cmd : {"keygen", "encrypt", "train", "validate", "decrypt", "evaluate", "infer"}) {
        const bt_test::ProcResult a = run_program("bt_train", {"help", cmd});
        const bt_test::ProcResult b = run_program("bt_train", {cmd, "--help"});
        INFO(cmd);
        CHECK(a.rc == 0);
        CHECK(a.out == b.out);
        CHECK(a.out.find("usage: bt_train " + cmd) != std::string::npos);
        const bt_test::ProcResult v = run_program("bt_train", {cmd, "--version"});
        CHECK(v.out.find("bt_train 0.") == 0);
    }
    const bt_test::ProcResult h = run_program("bt_train", {"help"});
    CHECK(h.out.find("keygen     client") != std::string::npos);
    CHECK(run_program("bt_train", {"help", "nope"}).rc == 2);
    for (const std::string prog : {"bt_train", "bt_bench", "bt_pretrain"}) {
        if (!bt_test::have_program(prog)) continue;
        const bt_test::ProcResult v = run_program(prog, {"--version"});
        INFO(prog << ": " << v.out);
        CHECK(v.rc == 0);
        CHECK(v.out.find(prog + " 0.") == 0);
        CHECK(v.out.find("SIMD paths built") != std::string::npos);
    }
    if (bt_test::have_program("bt_bench")) {
        CHECK(run_program("bt_bench", {"--threads"}).out.find("--threads needs a value") != std::string::npos);
        const bt_test::ProcResult b = run_program("bt_bench", {"ntt", "--threads", "abc"});
        CHECK(b.rc == 2);
        CHECK(b.out.find("--threads expects a whole number") != std::string::npos);
    }
}

TEST_CASE("run: peak memory regression (small bootstrapping ring, a process each): seeded bootstrapping keys hold "
          "less than --expanded-keys, a --max-memory only every key seeded fits chooses that, all train the same "
          "head bit for bit, and each stays within its forecast") {
    NEED_PROGRAMS();
    TempDir tmp;
    struct Measured {
        double peak, keys, forecast;
    };
    auto run = [&](const std::string& out, bool expanded, std::size_t limit_mib = 0) {
        std::vector<std::string> args{"--preset", "N12_test_boot", "--allow-insecure", "--insecure-seed",
                                      bt_test::kTestSeedHex, "--batch", "128", "--epochs", "1", "--train", "256",
                                      "--val", "0", "--test", "200", "--no-flooding", "--stream-data", "--out", out};
        if (expanded) args.push_back("--expanded-keys");
        if (limit_mib) {
            args.push_back("--max-memory");
            args.push_back(std::to_string(limit_mib) + "M");
        }
        const bt_test::ProcResult r = run_program("bt_train", args);
        INFO(r.out);
        REQUIRE(r.rc == 0);
        CHECK((r.out.find("every key will be seeded") != std::string::npos) == (limit_mib != 0));
        const std::string js = bt_test::slurp(out + "/report.json");
        auto number_after = [&](std::size_t from, const std::string& key) {
            const std::size_t p = js.find("\"" + key + "\": ", from);
            REQUIRE(p != std::string::npos);
            return std::strtod(js.c_str() + p + key.size() + 4, nullptr);
        };
        const double peak = number_after(js.find("\n  \"peak_memory_bytes\""), "peak_memory_bytes");
        const double forecast = number_after(js.find("\"forecast\""), "peak_memory_bytes");
        const double keys = number_after(js.find("\"forecast\""), "key_bytes");
        const std::string form = expanded ? "expanded" : "seeded";
        MESSAGE(form << " keys: peak " << bt::format_bytes(static_cast<std::size_t>(peak))
                << ", forecast " << bt::format_bytes(static_cast<std::size_t>(forecast)) << " (keys "
                << bt::format_bytes(static_cast<std::size_t>(keys)) << ")");
        CHECK(peak <= 1.25 * forecast);
        return Measured{peak, keys, forecast};
    };
    const Measured seeded = run(tmp.str() + "/seeded", false);
    const Measured expanded = run(tmp.str() + "/expanded", true);
    CHECK(seeded.keys < 0.8 * expanded.keys);  // the forecast's keys: about 2/3 of the bootstrapping keys seeded
    CHECK(seeded.peak < expanded.peak);        // and the process held less at its peak
    // A limit the default does not fit but every key seeded does (keys: half the expanded
    // ones; the training set streamed in every run): --max-memory chooses it.
    const double all_seeded = seeded.forecast - (seeded.keys - expanded.keys / 2);
    const Measured limited = run(tmp.str() + "/limited", false, static_cast<std::size_t>(all_seeded / 1048576.0) + 1);
    CHECK(limited.keys * 2 == expanded.keys);
    CHECK(limited.peak < seeded.peak);
    const std::string head = bt_test::slurp(tmp.str() + "/seeded/head.safetensors");
    CHECK(head == bt_test::slurp(tmp.str() + "/expanded/head.safetensors"));
    CHECK(head == bt_test::slurp(tmp.str() + "/limited/head.safetensors"));
}

}  // TEST_SUITE("app")

TEST_SUITE("app-slow") {

// The one-process run (small insecure ring, real bootstrapping) killed half-way through a
// checkpoint write, resumed with --resume, gives the same head as an uninterrupted run with
// the same keys (the reference takes the interrupted run's own secret seed, read from its
// checkpoint directory, as a test seed).
TEST_CASE("cli: the one-process run killed and resumed gives the same head, bit for bit") {
    NEED_PROGRAMS();
    TempDir tmp;
    const std::vector<std::string> opts = {"--preset", "N12_test_boot", "--allow-insecure", "--train", "256", "--val",
                                           "128", "--test", "300", "--batch", "128", "--no-flooding"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = opts;
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    const std::string run = tmp.str() + "/run", ref = tmp.str() + "/ref", logp = tmp.str() + "/run.log";
    const int rc1 = bt_test::wait_child(
        bt_test::spawn("bt_train", with({"--out", run}), logp, {"BT_TEST_CRASH_IN_CHECKPOINT=2"}));
    CHECK(rc1 == 128 + SIGKILL);
    CHECK_FALSE(file_exists(run + "/head.safetensors"));
    const std::string seed = bt::read_text_trimmed(run + "/checkpoints/client.seed");
    REQUIRE(seed.size() == 10 + 64);
    const int rc2 = bt_test::wait_child(bt_test::spawn("bt_train", with({"--out", run, "--resume"}), logp));
    INFO(bt_test::slurp(logp));
    REQUIRE(rc2 == 0);
    CHECK(bt_test::slurp(logp).find("resuming from") != std::string::npos);
    CHECK_FALSE(file_exists(run + "/checkpoints"));  // the seed and checkpoints go when the run completes
    const bt_test::ProcResult r = run_program("bt_train", with({"--out", ref, "--insecure-seed", seed.substr(10)}));
    INFO(r.out);
    REQUIRE(r.rc == 0);
    CHECK(bt::read_file(run + "/head.safetensors") == bt::read_file(ref + "/head.safetensors"));
}

}  // TEST_SUITE("app-slow")
