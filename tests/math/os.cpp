// bt/os.hpp: the one atomic file writer, file reading, directories, memory, text units.
#include "doctest/doctest.h"

#include "bt/os.hpp"
#include "../test_util.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace bt;
using bt_test::slurp;
using bt_test::TempDir;
namespace fs = std::filesystem;

TEST_SUITE("math") {


TEST_CASE("os: write_file_atomic writes, overwrites and leaves no temporary file") {
    TempDir dir;
    const std::string path = (dir.path / "report.json").string();
    write_file_atomic(path, "first version, longer than the second\n");
    CHECK(slurp(path) == "first version, longer than the second\n");
    write_file_atomic(path, std::string("second\0with nul", 15));
    CHECK(slurp(path) == std::string("second\0with nul", 15));
    write_file_atomic(path, "");
    CHECK(slurp(path).empty());
    CHECK(fs::exists(path));
    CHECK(dir.entries() == std::vector<std::string>{"report.json"});
}

TEST_CASE("os: write_file_atomic fails clearly and cleans up") {
    TempDir dir;
    const std::string missing = (dir.path / "no_such_dir" / "report.json").string();
    try {
        write_file_atomic(missing, "x");
        FAIL("no exception for a missing directory");
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        CHECK(msg.find(missing) != std::string::npos);
        CHECK(msg.find(std::strerror(ENOENT)) != std::string::npos);
    }
    CHECK(dir.entries().empty());
    // The rename fails (the target is a non-empty directory): the temporary file goes,
    // the target stays as it was.
    fs::create_directory(dir.path / "target");
    std::ofstream(dir.path / "target" / "keep") << "keep";
    const std::string target = (dir.path / "target").string();
    CHECK_THROWS_WITH_AS(write_file_atomic(target, "x"), doctest::Contains(target.c_str()), std::runtime_error);
    CHECK(dir.entries() == std::vector<std::string>{"target"});
    CHECK(slurp((dir.path / "target" / "keep").string()) == "keep");
}

TEST_CASE("os: peak_rss_bytes is positive and grows when memory is touched") {
#if defined(__linux__)
    const std::size_t before = peak_rss_bytes();
    CHECK(before > (std::size_t(1) << 20));  // a running test binary holds well over 1 MiB
    const std::size_t n = std::size_t(96) << 20;
    std::vector<unsigned char> block(n);
    for (std::size_t i = 0; i < n; i += 4096) block[i] = static_cast<unsigned char>(i >> 12);
    volatile unsigned sink = 0;
    for (std::size_t i = 0; i < n; i += 4096) sink = sink + block[i];
    const std::size_t after = peak_rss_bytes();
    CHECK(after >= before);
    CHECK(after >= n);  // the 96 MiB just touched were resident at once
#else
    MESSAGE("peak_rss_bytes: only checked on Linux");
#endif
}


TEST_CASE("os: the temporary file has the final mode from the start; read_file and the size helpers") {
    TempDir dir;
    const std::string path = (dir.path / "secret").string();
    write_file_atomic(path, std::string("s3cret"), 0600);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(read_file(path) == std::vector<std::uint8_t>{'s', '3', 'c', 'r', 'e', 't'});
    CHECK(file_size(path) == 6);
    CHECK(file_size((dir.path / "none").string()) == 0);
    CHECK_THROWS_WITH_AS(read_file((dir.path / "none").string()), doctest::Contains("cannot open"), std::runtime_error);
    CHECK_THROWS_WITH_AS(read_file(dir.path.string()), doctest::Contains("not a regular file"), std::runtime_error);
    CHECK(temp_path_for("a/b.bin").rfind("a/b.bin.tmp.", 0) == 0);
}

TEST_CASE("os: a stale temporary file or a planted link is never written through") {
    TempDir dir;
    const std::string path = (dir.path / "secret.key").string();
    // A stale temporary of the same name, readable by everyone.
    std::ofstream(temp_path_for(path)) << "stale";
    ::chmod(temp_path_for(path).c_str(), 0644);
    write_file_atomic(path, std::string("key"), 0600);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(slurp(path) == "key");
    CHECK(slurp(temp_path_for(path)) == "stale");  // left alone, not reused
    // A symbolic link planted at the temporary name: its target is not touched.
    const std::string target = (dir.path / "target").string();
    std::ofstream(target) << "target";
    std::remove(temp_path_for(path).c_str());
    REQUIRE(::symlink(target.c_str(), temp_path_for(path).c_str()) == 0);
    write_file_atomic(path, std::string("key2"), 0600);
    CHECK(slurp(target) == "target");
    CHECK(slurp(path) == "key2");
    // A symbolic link at the final name is replaced, not followed.
    const std::string link = (dir.path / "link.key").string();
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    write_file_atomic(link, std::string("new"), 0600);
    CHECK(slurp(target) == "target");
    CHECK(slurp(link) == "new");
    struct stat lst {};
    REQUIRE(::lstat(link.c_str(), &lst) == 0);
    CHECK(S_ISREG(lst.st_mode));
}

TEST_CASE("os: private directories are 0700 even if they existed; secrets read into wiped memory") {
    TempDir dir;
    const std::string d = (dir.path / "client").string();
    fs::create_directory(d);
    ::chmod(d.c_str(), 0755);
    make_private_dir(d);
    struct stat st {};
    REQUIRE(::stat(d.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    write_file_atomic(d + "/s", std::string("abc"), 0600);
    const SecureVector<std::uint8_t> b = read_file_secret(d + "/s");
    CHECK(std::string(b.begin(), b.end()) == "abc");
}

TEST_CASE("os: make_dirs and ensure_writable_dir create, refuse a file in the way, and leave no probe") {
    TempDir dir;
    const std::string deep = (dir.path / "a" / "b" / "c").string();
    make_dirs(deep);
    CHECK(is_directory(deep));
    ensure_writable_dir(deep, "output directory");
    CHECK(fs::is_empty(deep));
    std::ofstream((dir.path / "file").string()) << "x";
    CHECK_THROWS_WITH_AS(ensure_writable_dir((dir.path / "file" / "sub").string(), "output directory"),
                         doctest::Contains("output directory"), std::runtime_error);
    CHECK(path_join("a", "b") == "a/b");
    CHECK(path_join("a/", "b") == "a/b");
    CHECK(dir_name("x") == ".");
    CHECK(dir_name("/x") == "/");
    CHECK(dir_name("a/b/c") == "a/b");
}

TEST_CASE("os: byte units are binary (IEC) and durations read as clocks") {
    CHECK(format_bytes(512) == "512 B");
    CHECK(format_bytes(1536) == "1.5 KiB");
    CHECK(format_bytes(std::size_t{3} << 20) == "3.0 MiB");
    CHECK(format_bytes(std::size_t{13} << 30) == "13.00 GiB");
    CHECK(format_clock(0) == "0:00");
    CHECK(format_clock(61.4) == "1:01");
    CHECK(format_clock(3725) == "1:02:05");
}

TEST_CASE("os: the machine's memory is known on Linux and the available part is below the total") {
#if defined(__linux__)
    CHECK(total_memory_bytes() > (std::size_t{64} << 20));
    CHECK(available_memory_bytes() > 0);
    CHECK(available_memory_bytes() <= total_memory_bytes());
#else
    MESSAGE("memory figures: only checked on Linux");
#endif
}

}  // TEST_SUITE("math")
