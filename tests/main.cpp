// The doctest runner for BlindTuner. Besides doctest's own summary it prints one plain
// closing line, "tests: N passed, M failed, K skipped", which CI reads, and it exits
// non-zero on any failure (doctest's default; nothing here swallows it).
//
// Suites: every test belongs to a TEST_SUITE named after its module ("math", "ckks",
// "nn", "train", "cli"); real-size cases (N = 2^16 bootstrapping, full training runs)
// are in suites whose name ends in "-slow" and run by default too.
// Useful filters: ./bt_tests -ts=math   ./bt_tests -tse='*-slow'
#define DOCTEST_CONFIG_IMPLEMENT
#include "doctest/doctest.h"

#include "bt/cpu.hpp"
#include "bt/dist/comm.hpp"

#include <cstdio>
#include <sstream>

namespace {

unsigned g_passed = 0, g_failed = 0;

struct ClosingLine : doctest::IReporter {
    explicit ClosingLine(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& s) override {
        unsigned run = s.numTestCasesPassingFilters;
        unsigned failed = s.numTestCasesFailed;
        g_passed = run - failed;
        g_failed = failed;
    }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("closing-line", 1, ClosingLine);

int main(int argc, char** argv) {
    // Under mpirun (make MPI=1 test-mpi) every rank runs the suite; rank 0 reports. The other
    // ranks' doctest output is kept and shown only if they fail; the closing line counts a
    // test case as failed if it failed on any rank.
    bt::dist::init(&argc, &argv);
    const bt::dist::Comm& comm = bt::dist::Comm::world();
    if (comm.root())
        std::printf("BlindTuner tests: SIMD path %s (CPU offers: %s)%s\n", bt::simd_path_name(bt::simd_path()),
                    bt::cpu_features_string().c_str(),
                    comm.size() > 1 ? (", " + std::to_string(comm.size()) + " MPI ranks").c_str() : "");
    doctest::Context ctx;
    ctx.applyCommandLine(argc, argv);
    std::ostringstream quiet;
    if (!comm.root()) ctx.setCout(&quiet);
    int rc = ctx.run();
    if (comm.size() > 1) {
        if (rc != 0) std::fprintf(stderr, "== rank %d of %d:\n%s\n", comm.rank(), comm.size(), quiet.str().c_str());
        g_failed = static_cast<unsigned>(comm.allreduce_max(g_failed));
        g_passed = static_cast<unsigned>(comm.allreduce_min(g_passed));
        rc = static_cast<int>(comm.allreduce_max(static_cast<std::uint64_t>(rc != 0)));
    }
    if (!ctx.shouldExit() && comm.root()) std::printf("tests: %u passed, %u failed\n", g_passed, g_failed);
    bt::dist::finalize();
    return rc;
}
