// bt_bench: BlindTuner's benchmarks. Medians of repeated runs, one thread unless a group
// says otherwise. Usage: bt_bench [group ...] [--json] [--quick] [--threads N]
// Groups: ntt, ckks, bootstrap, vit, train-step (those built so far), or all.
#include "bench.hpp"

#include "bt/cpu.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

namespace btbench {

namespace {

struct Group {
    std::string what;
    GroupFn fn;
};
std::map<std::string, Group>& groups() {
    static std::map<std::string, Group> g;
    return g;
}

std::string json_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        o += c;
    }
    return o;
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
        std::string s = "{\"bench\":\"" + json_escape(bench_) + "\"";
        for (const Field& f : fields_)
            s += ",\"" + json_escape(f.key) + "\":" + (f.quoted ? "\"" + json_escape(f.text) + "\"" : f.text);
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
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--json") {
            opt.json = true;
        } else if (a == "--quick") {
            opt.quick = true;
        } else if (a == "--threads" && i + 1 < argc) {
            opt.threads = std::atoi(argv[++i]);
            opt.threads_given = true;
        } else if (a == "--reps" && i + 1 < argc) {
            opt.reps = std::atoi(argv[++i]);
        } else if (a == "--slots" && i + 1 < argc) {
            const std::string list = argv[++i];
            std::size_t pos = 0;
            while (pos < list.size()) {
                std::size_t end = list.find(',', pos);
                if (end == std::string::npos) end = list.size();
                opt.slots.push_back(static_cast<std::size_t>(std::strtoull(list.substr(pos, end - pos).c_str(), nullptr, 10)));
                pos = end + 1;
            }
        } else if (a == "--help" || a == "-h") {
            std::printf("usage: bt_bench [group ...] [--json] [--quick] [--threads N] [--reps N] [--slots a,b,...]\ngroups:\n");
            for (const auto& g : groups()) std::printf("  %-12s %s\n", g.first.c_str(), g.second.what.c_str());
            std::printf("  %-12s every group above\n", "all");
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "bt_bench: unknown option '%s' (try --help)\n", a.c_str());
            return 2;
        } else {
            wanted.push_back(a);
        }
    }
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
