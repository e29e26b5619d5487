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

#include <cstdio>

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
    std::printf("BlindTuner tests: SIMD path %s (CPU offers: %s)\n", bt::simd_path_name(bt::simd_path()),
                bt::cpu_features_string().c_str());
    doctest::Context ctx;
    ctx.applyCommandLine(argc, argv);
    const int rc = ctx.run();
    if (!ctx.shouldExit()) std::printf("tests: %u passed, %u failed\n", g_passed, g_failed);
    return rc;
}
