// The example programs of the library (tools/examples/*.cpp, built by make into
// BT_EXAMPLES_DIR) run as a user runs them: each exits 0 only if its results are within
// the precision it expects, and prints what it measured. Bad use is refused with exit
// status 2 and a message (the bootstrapping example without its insecure opt-in; the
// server example without its input files).
#include "doctest/doctest.h"

#include "../test_util.hpp"

#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifndef BT_EXAMPLES_DIR
#define BT_EXAMPLES_DIR "build/examples"
#endif

namespace {

struct Run {
    int rc = -1;
    std::string out;  // stdout and stderr together
};

// Runs BT_EXAMPLES_DIR/<name> with `args`, to completion.
Run run_example(const std::string& name, const std::vector<std::string>& args) {
    const std::string exe = std::string(BT_EXAMPLES_DIR) + "/" + name;
    struct stat st {};
    INFO("example program " << exe << " is missing: build the examples with make (they are part of make all)");
    REQUIRE(::stat(exe.c_str(), &st) == 0);
    bt_test::TempDir tmp;
    const std::string log = tmp.str() + "/out.log";
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        ::execv(exe.c_str(), argv.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    Run r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = bt_test::slurp(log);
    return r;
}

}  // namespace

TEST_SUITE("examples") {

TEST_CASE("examples: ckks_basics encrypts, adds, multiplies, rotates and decrypts within its precision") {
    const Run r = run_example("ckks_basics", {});
    INFO(r.out);
    CHECK(r.rc == 0);
    for (const char* line : {"encrypt, decrypt", "x + y", "x * y (relin., rescale)", "rotate x left by 5"})
        CHECK(r.out.find(line) != std::string::npos);
    CHECK(r.out.find("all results within the expected precision") != std::string::npos);
    const Run bad = run_example("ckks_basics", {"no_such_preset"});
    CHECK(bad.rc == 2);
    CHECK(bad.out.find("unknown CKKS preset 'no_such_preset'") != std::string::npos);
}

TEST_CASE("examples: hoisted_lintrans rotates with one decomposition and applies a matrix") {
    const Run r = run_example("hoisted_lintrans", {});
    INFO(r.out);
    CHECK(r.rc == 0);
    CHECK(r.out.find("hoisted precision") != std::string::npos);
    CHECK(r.out.find("M v: level 3 -> 2") != std::string::npos);
}

TEST_CASE("examples: polyeval evaluates a degree-31 Chebyshev interpolant on a ciphertext") {
    const Run r = run_example("polyeval", {});
    INFO(r.out);
    CHECK(r.rc == 0);
    CHECK(r.out.find("level 12 -> 6") != std::string::npos);
    CHECK(r.out.find("within the expected precision") != std::string::npos);
}

TEST_CASE("examples: bootstrapping needs its insecure opt-in, then refreshes level 0 to 15") {
    const Run refused = run_example("bootstrapping", {});
    CHECK(refused.rc == 2);
    CHECK(refused.out.find("pass --allow-insecure") != std::string::npos);
    const Run r = run_example("bootstrapping", {"--allow-insecure"});
    INFO(r.out);
    CHECK(r.rc == 0);
    CHECK(r.out.find("level 0 -> 15") != std::string::npos);
}

TEST_CASE("examples: serialize_client and serialize_server exchange files, the server without a secret key") {
    bt_test::TempDir dir;
    const Run enc = run_example("serialize_client", {"encrypt", dir.str()});
    INFO(enc.out);
    REQUIRE(enc.rc == 0);
    struct stat st {};
    REQUIRE(::stat((dir.str() + "/client/secret.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0077) == 0);  // the secret key is readable by its owner only
    CHECK(::stat((dir.str() + "/server/secret.key").c_str(), &st) != 0);
    const Run srv = run_example("serialize_server", {dir.str() + "/server"});
    INFO(srv.out);
    REQUIRE(srv.rc == 0);
    const Run dec = run_example("serialize_client", {"decrypt", dir.str()});
    INFO(dec.out);
    CHECK(dec.rc == 0);
    CHECK(dec.out.find("as expected") != std::string::npos);
    const Run missing = run_example("serialize_server", {dir.str() + "/client"});  // no keys there
    CHECK(missing.rc == 2);
    CHECK(missing.out.find("relin.key") != std::string::npos);
}

TEST_CASE("examples: random_features writes a learnable features set that bt_train's features format reads") {
    struct stat fm {};
    if (::stat("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", &fm) != 0) {
        MESSAGE("skipped: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        return;
    }
    bt_test::TempDir dir;
    const Run r = run_example("random_features", {dir.str() + "/f", "24", "300"});
    INFO(r.out);
    REQUIRE(r.rc == 0);
    const std::string a = bt_test::slurp(dir.str() + "/f/train_features.npy");
    CHECK(a.size() == 128 + 300 * 24 * 4);  // header padded to 128 bytes, float32 [300, 24]
    CHECK(a.find("'shape': (300, 24)") != std::string::npos);
    CHECK(bt_test::slurp(dir.str() + "/f/test_labels.npy").size() == 128 + 300);
    // The map is fixed: a second run writes the same bytes.
    const Run again = run_example("random_features", {dir.str() + "/g", "24", "300"});
    REQUIRE(again.rc == 0);
    CHECK(bt_test::slurp(dir.str() + "/g/train_features.npy") == a);
    CHECK(run_example("random_features", {dir.str() + "/h", "0"}).rc == 2);
    CHECK(run_example("random_features", {dir.str() + "/h", "24", "x"}).rc == 2);
    CHECK(run_example("random_features", {dir.str() + "/h", "24", "10", dir.str() + "/none"}).rc == 2);
}

}  // TEST_SUITE
