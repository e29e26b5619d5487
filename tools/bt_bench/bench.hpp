// bt_bench: the benchmark driver's shared pieces. Each group (ntt, ckks, bootstrap, vit,
// train-step) lives in its own file and registers itself with BT_BENCH_GROUP.
// Output: a human-readable table, or with --json one JSON object per line with the names
// fixed in shared/DESIGN.md ("bench", identifying parameters, "ns", "reps", ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace btbench {

struct Options {
    bool json = false;
    double min_seconds = 0.3;  // per case: repeat until this much time or max_reps
    int max_reps = 200;
    int min_reps = 5;
    bool quick = false;        // --quick: few repetitions (smoke test)
    int threads = 1;           // --threads N (groups that support threads)
    bool threads_given = false;
    int reps = 0;              // --reps N: repetitions for groups that run few (bootstrap); 0: the group's default
    std::vector<std::size_t> slots;  // --slots a,b,…: slot counts for groups that take them (bootstrap)
    std::vector<std::string> configs;  // --config a,b,…: only these configurations (bootstrap, train-step, memory)
};

// One output row: ordered key/value pairs. Numbers keep their type in JSON.
class Row {
public:
    explicit Row(std::string bench);
    Row& set(const std::string& key, const std::string& value);
    Row& set(const std::string& key, const char* value);
    Row& set(const std::string& key, double value);
    Row& set(const std::string& key, std::int64_t value);
    Row& set(const std::string& key, int value) { return set(key, static_cast<std::int64_t>(value)); }
    Row& set(const std::string& key, std::size_t value) { return set(key, static_cast<std::int64_t>(value)); }
    void print(const Options& opt) const;  // one line, table or JSON

private:
    struct Field {
        std::string key, text;
        bool quoted;
    };
    std::string bench_;
    std::vector<Field> fields_;
};

struct Timing {
    double median_ns = 0;
    int reps = 0;
};

// Runs `fn` repeatedly (after one warm-up) and returns the median time per call.
Timing measure(const Options& opt, const std::function<void()>& fn);

// How much of two cores the host gives this process right now: a throughput-bound integer
// kernel (eight independent multiply chains, no memory traffic) timed on one thread and
// then on two (each thread the same work), ~0.2 s in all; returns 2·t1/t2. On two
// physical cores to ourselves it reads ~2.0; a hypervisor that places both vCPUs on one
// core's SMT siblings, or a neighbour on our cores, gives less (seen on these hosts:
// 0.8–2.0 within an hour). Reported next to multi-thread speed-ups so that one can tell a
// slow run from a crowded host.
double host_two_core_scaling();

using GroupFn = void (*)(const Options&);
struct Registrar {
    Registrar(const char* name, const char* what, GroupFn fn);
};

}  // namespace btbench

#define BT_BENCH_GROUP(NAME, WHAT, FN) static ::btbench::Registrar bt_bench_reg_##FN(NAME, WHAT, FN)
