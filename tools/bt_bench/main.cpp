// bt_bench: BlindTuner's benchmarks. Medians of repeated runs, one thread unless a group
// says otherwise. Usage: bt_bench [group ...] [--json] [--quick] [--threads N]
// Groups: ntt, ckks, bootstrap, vit, train-step (those built so far), or all.
#include "bench.hpp"

#include "bt/app/args.hpp"
#include "bt/cpu.hpp"
#include "bt/json.hpp"
#include "bt/threadpool.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

namespace btbench {

namespace {

volatile std::uint64_t g_sink;  // keeps the calibration kernel's result alive

// Eight independent 64-bit multiply-add chains: bound by the multiplier's throughput,
// nothing from memory.
void multiply_chains(long iters) {
    std::uint64_t x[8];
    for (int c = 0; c < 8; ++c) x[c] = static_cast<std::uint64_t>(c) + 1;
    for (long i = 0; i < iters; ++i)
        for (auto& v : x) v = v * 0x9E3779B97F4A7C15ull + 1;
    std::uint64_t s = 0;
    for (std::uint64_t v : x) s += v;
    g_sink = s;
}

double seconds_on(int threads, long iters) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> th;
    for (int k = 1; k < threads; ++k) th.emplace_back(multiply_chains, iters);
    multiply_chains(iters);
    for (auto& t : th) t.join();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Group {
    std::string what;
    GroupFn fn;
};
std::map<std::string, Group>& groups() {
    static std::map<std::string, Group> g;
    return g;
}

}  // namespace

Registrar::Registrar(const char* name, const char* what, GroupFn fn) { groups()[name] = Group{what, fn}; }

Row::Row(std::string bench) : bench_(std::move(bench)) {}
Row& Row::set(const std::string& key, const std::string& value) {
    fields_.push_back({key, value, true});
    return *this;
}
Row& Row::set(const std::string& key, const char* value) { return set(key, std::string(value)); }
Row& Row::set(const std::string& key, double value) {
    char buf[64];
    if (std::isfinite(value))
        std::snprintf(buf, sizeof buf, "%.6g", value);
    else
        std::snprintf(buf, sizeof buf, "null");
    fields_.push_back({key, buf, false});
    return *this;
}
Row& Row::set(const std::string& key, std::int64_t value) {
    fields_.push_back({key, std::to_string(value), false});
    return *this;
}

void Row::print(const Options& opt) const {
    if (opt.json) {
        std::string s = "{\"bench\":" + bt::json_string(bench_);
        for (const Field& f : fields_) s += "," + bt::json_string(f.key) + ":" + (f.quoted ? bt::json_string(f.text) : f.text);
        std::printf("%s}\n", s.c_str());
    } else {
        std::string s;
        char head[32];
        std::snprintf(head, sizeof head, "%-18s", bench_.c_str());
        s = head;
        for (const Field& f : fields_) {
            std::string cell = f.key + "=" + f.text;
            if (f.key == "ns") {
                const double ns = std::atof(f.text.c_str());
                char buf[48];
                if (ns >= 1e9)
                    std::snprintf(buf, sizeof buf, "%.3f s", ns / 1e9);
                else if (ns >= 1e6)
                    std::snprintf(buf, sizeof buf, "%.3f ms", ns / 1e6);
                else
                    std::snprintf(buf, sizeof buf, "%.3f us", ns / 1e3);
                cell = std::string("time=") + buf;
            }
            char col[64];
            std::snprintf(col, sizeof col, " %-16s", cell.c_str());
            s += col;
        }
        std::printf("%s\n", s.c_str());
    }
    std::fflush(stdout);
}

double host_two_core_scaling() {
    constexpr long kIters = 10'000'000;  // ~0.05 s per run at 3+ GHz
    seconds_on(1, kIters / 10);          // wake the core
    const double one = std::min(seconds_on(1, kIters), seconds_on(1, kIters));
    const double two = std::min(seconds_on(2, kIters), seconds_on(2, kIters));
    return 2 * one / two;
}

Timing measure(const Options& opt, const std::function<void()>& fn) {
    using clock = std::chrono::steady_clock;
    fn();  // warm-up
    std::vector<double> ns;
    const auto start = clock::now();
    const int max_reps = opt.quick ? 3 : opt.max_reps;
    const int min_reps = opt.quick ? 1 : opt.min_reps;
    const double min_s = opt.quick ? 0.0 : opt.min_seconds;
    while (static_cast<int>(ns.size()) < max_reps) {
        const auto t0 = clock::now();
        fn();
        const auto t1 = clock::now();
        ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
        const double elapsed = std::chrono::duration<double>(t1 - start).count();
        if (static_cast<int>(ns.size()) >= min_reps && elapsed >= min_s) break;
    }
    std::sort(ns.begin(), ns.end());
    const std::size_t n = ns.size();
    Timing t;
    t.median_ns = n % 2 ? ns[n / 2] : 0.5 * (ns[n / 2 - 1] + ns[n / 2]);
    t.reps = static_cast<int>(n);
    return t;
}

}  // namespace btbench

int main(int argc, char** argv) {
    using namespace btbench;
    Options opt;
    std::vector<std::string> wanted;
    std::string groups_help = "groups:\n";
    for (const auto& g : groups()) groups_help += "  " + g.first + std::string(g.first.size() < 12 ? 12 - g.first.size() : 1, ' ') + g.second.what + "\n";
    groups_help += "  all         every group above";
    std::size_t threads = 1, reps = 0;
    bt::app::Options o("bt_bench", "bt_bench [group ...] [options]",
                       "BlindTuner's benchmarks: medians of repeated runs, one thread unless a group says otherwise.");
    o.flag("--json", "one JSON object per line", &opt.json);
    o.flag("--quick", "few repetitions (a smoke test)", &opt.quick);
    o.count("--threads", "N", "threads for the groups that take them", &threads, 1, bt::kMaxThreads);
    o.count("--reps", "N", "repetitions for groups that run few (bootstrap; 0 = the group's default)", &reps, 0, 1000000);
    o.custom("--slots", "LIST", "slot counts for groups that take them (bootstrap), e.g. 32768,4096", [&opt](const std::string& v) {
        std::size_t pos = 0;
        while (pos <= v.size()) {
            std::size_t end = v.find(',', pos);
            if (end == std::string::npos) end = v.size();
            opt.slots.push_back(bt::app::parse_count("--slots", v.substr(pos, end - pos), 1, std::size_t{1} << 20));
            pos = end + 1;
        }
    });
    o.custom("--config", "LIST", "only these configurations: memory, speed (bootstrap, train-step, memory), expanded, "
             "speed_seeded (train-step, memory), e.g. speed,speed_seeded", [&opt](const std::string& v) {
        static const char* const known[] = {"memory", "expanded", "speed", "speed_seeded"};
        std::size_t pos = 0;
        while (pos <= v.size()) {
            std::size_t end = v.find(',', pos);
            if (end == std::string::npos) end = v.size();
            const std::string c = v.substr(pos, end - pos);
            if (std::find(std::begin(known), std::end(known), c) == std::end(known))
                throw bt::app::UsageError("--config: unknown configuration '" + c +
                                          "' (memory, expanded, speed or speed_seeded)");
            opt.configs.push_back(c);
            pos = end + 1;
        }
    });
    o.positional("GROUP", &wanted);
    o.epilog(groups_help);
    try {
        if (!o.parse(argc, argv)) return 0;
    } catch (const bt::app::UsageError& e) {
        std::fprintf(stderr, "bt_bench: %s (try --help)\n", e.what());
        return 2;
    }
    opt.threads = static_cast<int>(threads);
    opt.threads_given = o.given("--threads");
    opt.reps = static_cast<int>(reps);
    if (wanted.empty()) wanted.push_back("all");
    if (!opt.json)
        std::printf("bt_bench: SIMD path in force %s; CPU offers %s. Times are medians.\n",
                    bt::simd_path_name(bt::simd_path()), bt::cpu_features_string().c_str());
    for (const std::string& w : wanted) {
        if (w == "all") {
            for (const auto& g : groups()) g.second.fn(opt);
            continue;
        }
        auto it = groups().find(w);
        if (it == groups().end()) {
            std::fprintf(stderr, "bt_bench: no benchmark group '%s' (try --help)\n", w.c_str());
            return 2;
        }
        it->second.fn(opt);
    }
    return 0;
}
