// Helpers shared by the test suites.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>
#include <stdlib.h>
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

// A fresh directory under the system's temporary directory, removed with its contents.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "bt_test_XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string str() const { return path.string(); }
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& d : std::filesystem::directory_iterator(path)) out.push_back(d.path().filename().string());
        return out;
    }
};

// A whole file as a string ("" if it cannot be read).
inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace bt_test
