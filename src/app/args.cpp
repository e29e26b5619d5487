// Command-line options (see bt/app/args.hpp).
#include "bt/app/args.hpp"

#include "bt/threadpool.hpp"
#include "bt/version.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace bt::app {

namespace {

std::string shortest(double v) {
    std::ostringstream o;
    o << v;
    return o.str();
}

}  // namespace

std::size_t parse_count(const std::string& flag, const std::string& v, std::size_t min, std::size_t max) {
    bool digits = !v.empty() && v.size() <= 20;
    for (char c : v) digits = digits && c >= '0' && c <= '9';
    errno = 0;
    const unsigned long long x = digits ? std::strtoull(v.c_str(), nullptr, 10) : 0;
    if (!digits || errno == ERANGE || x < min || x > max)
        throw UsageError(flag + " expects a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                         ", got '" + v + "'");
    return static_cast<std::size_t>(x);
}

double parse_real(const std::string& flag, const std::string& v, double min, double max, bool min_open) {
    char* end = nullptr;
    errno = 0;
    const double x = v.empty() ? NAN : std::strtod(v.c_str(), &end);
    const bool ok = !v.empty() && *end == '\0' && errno != ERANGE && std::isfinite(x) &&
                    (min_open ? x > min : x >= min) && x <= max;
    if (!ok)
        throw UsageError(flag + " expects a finite number " + (min_open ? "above " : "from ") + shortest(min) +
                         (min_open ? " up to " : " to ") + shortest(max) + ", got '" + v + "'");
    return x;
}

Options::Options(std::string program, std::string usage, std::string about)
    : program_(std::move(program)), usage_(std::move(usage)), about_(std::move(about)) {}

Options& Options::flag(const std::string& name, const std::string& help, bool* out) {
    opts_.push_back({name, "", help, "", false, [out](const std::string&) { *out = true; }});
    return *this;
}

Options& Options::text(const std::string& name, const std::string& metavar, const std::string& help,
                       std::string* out) {
    opts_.push_back({name, metavar, help, *out, true, [name, out](const std::string& v) {
                         if (v.empty()) throw UsageError(name + " needs a non-empty value");
                         *out = v;
                     }});
    return *this;
}

Options& Options::count(const std::string& name, const std::string& metavar, const std::string& help,
                        std::size_t* out, std::size_t min, std::size_t max) {
    opts_.push_back({name, metavar, help, std::to_string(*out), true,
                     [=](const std::string& v) { *out = parse_count(name, v, min, max); }});
    return *this;
}

Options& Options::count64(const std::string& name, const std::string& metavar, const std::string& help,
                          std::uint64_t* out) {
    opts_.push_back({name, metavar, help, std::to_string(*out), true, [=](const std::string& v) {
                         *out = static_cast<std::uint64_t>(parse_count(name, v, 0, SIZE_MAX));
                     }});
    return *this;
}

Options& Options::real(const std::string& name, const std::string& metavar, const std::string& help, double* out,
                       double min, double max, bool min_open) {
    opts_.push_back({name, metavar, help, shortest(*out), true,
                     [=](const std::string& v) { *out = parse_real(name, v, min, max, min_open); }});
    return *this;
}

Options& Options::threads() {
    const std::string help = "worker threads, 1 to " + std::to_string(kMaxThreads) +
                              " (default: BT_THREADS or every hardware thread)";
    opts_.push_back({"--threads", "N", help, "", true, [this](const std::string& v) {
                         threads_ = static_cast<unsigned>(parse_count("--threads", v, 1, kMaxThreads));
                     }});
    return *this;
}

Options& Options::custom(const std::string& name, const std::string& metavar, const std::string& help,
                         std::function<void(const std::string&)> apply, const std::string& default_text) {
    opts_.push_back({name, metavar, help, default_text, !metavar.empty(), std::move(apply)});
    return *this;
}

Options& Options::positional(const std::string& metavar, std::vector<std::string>* out) {
    positional_metavar_ = metavar;
    positional_ = out;
    return *this;
}

Options& Options::forbid(const std::string& name, const std::string& reason) {
    forbidden_.emplace_back(name, reason);
    return *this;
}

Options& Options::epilog(const std::string& text) {
    epilog_ += text;
    return *this;
}

Options::Opt* Options::find(const std::string& name) {
    for (Opt& o : opts_)
        if (o.name == name) return &o;
    return nullptr;
}

bool Options::given(const std::string& name) const {
    for (const Opt& o : opts_)
        if (o.name == name) return o.seen;
    return false;
}

bool Options::parse(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i], value;
        bool has_inline = false;
        if (a == "--help" || a == "-h") {
            std::cout << help();
            return false;
        }
        if (a == "--version") {
            std::cout << version_line(program_.substr(0, program_.find(' '))) << "\n";
            return false;
        }
        if (a.size() > 2 && a.compare(0, 2, "--") == 0 && a.find('=') != std::string::npos) {
            value = a.substr(a.find('=') + 1);
            a = a.substr(0, a.find('='));
            has_inline = true;
        }
        for (const auto& [name, reason] : forbidden_)
            if (a == name) throw UsageError(program_ + " refuses " + a + ": " + reason);
        Opt* o = find(a);
        if (!o) {
            if (positional_ && !a.empty() && a[0] != '-') {
                positional_->push_back(a);
                continue;
            }
            throw UsageError("unknown option '" + a + "' (" + program_ + " --help lists the options)");
        }
        if (o->seen) throw UsageError(a + " is given twice");
        o->seen = true;
        if (o->takes_value && !has_inline) {
            if (i + 1 >= argc) throw UsageError(a + " needs a value (" + o->metavar + ")");
            value = argv[++i];
        } else if (!o->takes_value && has_inline) {
            throw UsageError(a + " takes no value");
        }
        o->apply(value);
    }
    if (threads_) ThreadPool::set_global_threads(threads_);
    return true;
}

std::string Options::help() const {
    std::ostringstream o;
    o << "usage: " << usage_ << "\n\n" << about_ << "\n\noptions:\n";
    for (const Opt& x : opts_) {
        std::string left = "  " + x.name + (x.metavar.empty() ? "" : " " + x.metavar);
        std::string text = x.help;
        if (!x.default_text.empty() && x.takes_value && text.find("default") == std::string::npos)
            text += " (default " + x.default_text + ")";
        if (left.size() < 24) left.resize(24, ' ');
        else left += "\n" + std::string(24, ' ');
        o << left << text << "\n";
    }
    o << "  --help, --version\n";
    if (!epilog_.empty()) o << "\n" << epilog_ << (epilog_.back() == '\n' ? "" : "\n");
    return o.str();
}

}  // namespace bt::app
