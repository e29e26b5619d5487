// Data-parallel training (bt/dist/comm.hpp, Server in bt/app/server.hpp). In the default
// build these cases run as one rank; `make MPI=1 test-mpi` runs them under mpirun with 2
// and 3 ranks, where every rank executes each case and the collectives meet.
//   - the exact reduction of residues across the ranks, and its refusal of an unsafe R·q;
//   - the small insecure ring with REAL bootstrapping, a job of 3 groups per step: the
//     encrypted head of every rank count equals the one-rank head byte for byte, also when
//     a run is paused with one rank count and resumed with another; encrypted inference
//     gathers the same predictions.
#include "doctest/doctest.h"

#include "app_test_util.hpp"
#include "bt/app/roles.hpp"
#include "bt/dist/comm.hpp"
#include "bt/os.hpp"
#include "bt/random.hpp"

#include <cstdlib>
#include <cstring>
#include <ftw.h>
#include <random>
#include <sstream>

using namespace bt::app;
namespace dist = bt::dist;

namespace {

// A temporary directory that rank 0 makes and every rank knows.
std::string shared_tmpdir(const dist::Comm& c) {
    std::vector<std::uint8_t> name;
    if (c.root()) {
        char tmpl[] = "/tmp/bt_mpi_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        name.assign(tmpl, tmpl + std::strlen(tmpl));
    }
    c.bcast(name);
    return std::string(name.begin(), name.end());
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return std::remove(path); }

std::vector<std::uint64_t> residues(std::uint64_t q, int rank, std::size_t n) {
    std::mt19937_64 g(0x9e3779b97f4a7c15ull ^ (q * 31 + static_cast<std::uint64_t>(rank)));
    std::vector<std::uint64_t> v(n);
    for (auto& x : v) x = g() % q;
    if (n) v[0] = q - 1;  // the largest residue, on every rank
    return v;
}

}  // namespace

TEST_SUITE("mpi") {

TEST_CASE("mpi: the sum of residues across the ranks is exact mod q, in any rank order; an unsafe R·q is refused") {
    const dist::Comm& c = dist::Comm::world();
    const std::size_t R = static_cast<std::size_t>(c.size()), n = 4099;
    // Primes of the three sizes the presets use (61-bit special, 60-bit and 40-bit chain),
    // and the largest q that is still safe for this R.
    const std::uint64_t largest_safe = UINT64_MAX / R + 1;  // R·(q − 1) <= 2^64 − 1
    for (std::uint64_t q : std::vector<std::uint64_t>{(std::uint64_t{1} << 61) - 1, 0xfffffffffffffc5ull, 0xffffffffa9ull, largest_safe}) {
        if (!dist::reduction_safe(R, q)) continue;  // 2^61 − 1 with more than 8 ranks
        std::vector<std::uint64_t> v = residues(q, c.rank(), n);
        dist::allreduce_mod(c, v.data(), v.size(), q);
        std::vector<unsigned __int128> want(n, 0);
        for (int r = 0; r < c.size(); ++r) {
            const std::vector<std::uint64_t> o = residues(q, r, n);
            for (std::size_t i = 0; i < n; ++i) want[i] += o[i];
        }
        bool same = true;
        for (std::size_t i = 0; i < n; ++i) same = same && v[i] == static_cast<std::uint64_t>(want[i] % q);
        CHECK_MESSAGE(same, "q = " << q << ", R = " << R);
    }
    CHECK(dist::reduction_safe(8, std::uint64_t{1} << 61));
    CHECK_FALSE(dist::reduction_safe(9, std::uint64_t{1} << 61));
    CHECK(dist::reduction_safe(1, UINT64_MAX));
    CHECK(dist::reduction_safe(2, std::uint64_t{1} << 63));  // 2·(2^63 − 1) = 2^64 − 2
    CHECK_FALSE(dist::reduction_safe(2, (std::uint64_t{1} << 63) + 1));
    CHECK_FALSE(dist::reduction_safe(0, 17));
    if (R > 1) {  // refused identically on every rank, before any communication
        std::vector<std::uint64_t> v(8, 1);
        CHECK_THROWS_AS(dist::allreduce_mod(c, v.data(), v.size(), largest_safe + 1), std::invalid_argument);
    }
    std::vector<std::uint64_t> bad(4, 99);
    CHECK_THROWS_AS(dist::allreduce_mod(c, bad.data(), bad.size(), 97), std::invalid_argument);
}

TEST_CASE("mpi: every rank count trains the same encrypted head byte for byte (also paused and resumed with "
          "another count); inference gathers the same predictions") {
    const dist::Comm& world = dist::Comm::world();
    const dist::Comm& self = dist::Comm::self();
    if (!dist::built_with_mpi()) {  // one rank against itself: make test-mpi runs it with 2 and 3
        MESSAGE("skipped: built without MPI (make test-mpi runs this case under mpirun)");
        return;
    }
    if (!bt_test::have_data()) {
        MESSAGE("skipped: Fashion-MNIST or the shipped model not found");
        return;
    }
    const std::string root = shared_tmpdir(world);
    const std::string client = root + "/client", server = root + "/server";
    if (world.root()) {  // the client: keys and data (the test stands in for it)
        RunConfig cfg = bt_test::small_roles_config();
        cfg.groups = 3;  // 5 batches of 128 rows: steps of groups {0, 1, 2} and {3, 4}
        cfg.epochs = 1;
        cfg.train_size = 600;  // the last group 88 rows
        cfg.val_size = 64;
        cfg.test_size = 128;
        cfg.lr = 1.0;
        std::ostringstream log;
        role_keygen(cfg, RoleDirs{client, server}, log);
        role_encrypt(cfg, RoleDirs{client, server}, log);
    }
    world.barrier();
    auto train = [&](const dist::Comm& c, const std::string& out, std::size_t max_steps, bool resume) {
        TrainRoleOptions o;
        o.server_dir = server;
        o.out_dir = out;
        o.allow_insecure = true;
        o.comm = &c;
        o.max_steps = max_steps;
        o.resume = resume;
        std::ostringstream log;
        role_train(o, log);
        return log.str();
    };
    auto head = [](const std::string& out) { return bt::read_file(out + "/head.bin"); };
    // One rank (rank 0 alone) is the reference.
    if (world.root()) train(self, root + "/one", 0, false);
    world.barrier();
    const std::string all_log = train(world, root + "/all", 0, false);
    if (world.root()) {
        CHECK(all_log.find("train: 2 steps") != std::string::npos);
        CHECK(head(root + "/all") == head(root + "/one"));
    }
    // Paused after one step with every rank, resumed by rank 0 alone; and the other way round.
    train(world, root + "/a2one", 1, false);
    if (world.root()) {
        CHECK_FALSE(bt_test::file_exists(root + "/a2one/head.bin"));
        const std::string l = train(self, root + "/a2one", 0, true);
        CHECK(l.find("resuming from") != std::string::npos);
        CHECK(head(root + "/a2one") == head(root + "/one"));
        train(self, root + "/one2a", 1, false);
    }
    world.barrier();
    train(world, root + "/one2a", 0, true);
    if (world.root()) CHECK(head(root + "/one2a") == head(root + "/one"));
    // Encrypted inference, its test batches spread over the ranks and gathered at rank 0.
    std::ostringstream log;
    if (world.root()) role_infer(server, root + "/one/head.bin", root + "/pred-one.bin", true, log, "-", &self);
    world.barrier();
    role_infer(server, root + "/one/head.bin", root + "/pred-all.bin", true, log, "-", &world);
    if (world.root()) CHECK(bt::read_file(root + "/pred-all.bin") == bt::read_file(root + "/pred-one.bin"));
    world.barrier();
    if (world.root()) ::nftw(root.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

}  // TEST_SUITE
