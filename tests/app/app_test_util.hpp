// Shared by the app suites: running the programs as child processes (their exit status
// and output are part of what is tested), and the small test configuration.
#pragma once

#include "../train/train_test_util.hpp"
#include "bt/app/config.hpp"
#include "../test_util.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace bt_test {

inline bool file_exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

// Where the programs under test are: $BT_TEST_BIN_DIR (the sanitizer pass runs its own
// builds), else the working directory (the repository root).
inline std::string program_path(const std::string& program) {
    const char* d = std::getenv("BT_TEST_BIN_DIR");
    return std::string(d && *d ? d : ".") + "/" + program;
}

// Starts <program> (see program_path) with `args` (stdout and stderr appended to `log_path`), with extra
// environment entries "NAME=value". Returns the pid.
inline pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::string& log_path,
                   const std::vector<std::string>& env = {}) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.push_back(*e);
    for (const auto& e : env) envs.push_back(e);
    const std::string exe = program_path(program);
    std::vector<char*> argv, envp;
    argv.push_back(const_cast<char*>(exe.c_str()));
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
        ::execve(exe.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

// Exit code, or 128 + signal.
inline int wait_child(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct ProcResult {
    int rc = -1;
    std::string out;  // stdout and stderr together
};

// Runs ./<program> to completion.
inline ProcResult run_program(const std::string& program, const std::vector<std::string>& args,
                              const std::vector<std::string>& env = {}) {
    TempDir tmp;
    const std::string log = tmp.str() + "/out.log";
    ProcResult r;
    r.rc = wait_child(spawn(program, args, log, env));
    r.out = slurp(log);
    return r;
}

inline bool have_program(const std::string& program) { return file_exists(program_path(program)); }

constexpr const char* kModel = "models/bt-vit-fmnist04.safetensors";
constexpr const char* kData = "/usr/share/datasets/fashion-mnist";
inline bool have_data() { return file_exists(std::string(kData) + "/train-images-idx3-ubyte.gz") && file_exists(kModel); }

// 64 hex digits: the known seed of reproducible (INSECURE) test runs.
constexpr const char* kTestSeedHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// The client/server flows' small job: the insecure ring N12_test_boot with REAL
// bootstrapping, the shipped model and Fashion-MNIST, a known test seed (roles, mpi).
inline bt::app::RunConfig small_roles_config() {
    bt::app::RunConfig cfg;
    cfg.model = kModel;
    cfg.data_dir = kData;
    cfg.preset = "N12_test_boot";
    cfg.allow_insecure = true;
    cfg.insecure_seed = bt::app::parse_seed_hex("test", kTestSeedHex);
    cfg.batch = 128;
    cfg.epochs = 2;
    cfg.train_size = 256;
    cfg.val_size = 128;
    cfg.test_size = 500;
    cfg.seed = 1;
    return cfg;
}

}  // namespace bt_test
