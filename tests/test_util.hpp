// Helpers shared by the test suites.
#pragma once

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace bt_test {

// Path of a file under tests/ (golden vectors). Looks in $BT_TEST_DATA, then ./tests
// (the suite normally runs from the repository root). A missing file is an error, not
// a skip: golden files are part of the repository.
inline std::string data_path(const std::string& rel) {
    if (const char* env = std::getenv("BT_TEST_DATA")) return std::string(env) + "/" + rel;
    const std::string p = "tests/" + rel;
    if (std::ifstream(p).good()) return p;
    throw std::runtime_error("test data " + p + " not found: run bt_tests from the repository root "
                             "or set BT_TEST_DATA to the tests/ folder");
}

}  // namespace bt_test
