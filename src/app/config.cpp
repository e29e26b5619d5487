// The user's decisions and their checks (see bt/app/config.hpp).
#include "bt/app/config.hpp"

#include "bt/os.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>
#include <unistd.h>

namespace bt::app {

std::string default_training_preset() { return "N16_QP1735_T_enc"; }

namespace {

std::string executable_dir() {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    buf[n] = '\0';
    return dir_name(buf);
}

}  // namespace

std::string default_model_path() {
    if (const char* env = std::getenv("BT_MODEL"); env && *env) return env;
    const std::string local = std::string("models/") + kModelFile;
    if (path_exists(local)) return local;
    const std::string exe = executable_dir();
    if (!exe.empty())
        for (const std::string& rel : {std::string(kModelFile), std::string("models/") + kModelFile,
                                       std::string("../share/blindtuner/") + kModelFile}) {
            const std::string p = path_join(exe, rel);
            if (path_exists(p)) return p;
        }
    return local;
}

std::string model_or_default(const RunConfig& cfg) { return cfg.model.empty() ? default_model_path() : cfg.model; }

void check_config(const RunConfig& cfg) {
    if (cfg.classes.size() == 1)
        throw UsageError("--classes needs at least two labels (e.g. 5,6,7,8,9), got " +
                         std::to_string(cfg.classes.size()));
    std::set<int> seen;
    for (int c : cfg.classes) {
        if (c < 0 || c > kMaxClassLabel)
            throw UsageError("--classes: label " + std::to_string(c) + " is outside 0.." + std::to_string(kMaxClassLabel));
        if (!seen.insert(c).second) throw UsageError("--classes: label " + std::to_string(c) + " is listed twice");
    }
    if (!cfg.class_names.empty() && !cfg.classes.empty() && cfg.class_names.size() != cfg.classes.size())
        throw UsageError("--class-names gives " + std::to_string(cfg.class_names.size()) + " names for " +
                         std::to_string(cfg.classes.size()) + " classes: give one name per class, in the same order");
    for (const std::string& n : cfg.class_names)
        for (const char c : n)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                throw UsageError("--class-names: a name holds a control character; use printable names");
    if (cfg.batch < 1 || cfg.batch > kMaxBatch)
        throw UsageError("--batch must be from 1 to " + std::to_string(kMaxBatch) + ", got " + std::to_string(cfg.batch));
    if (cfg.groups < 1 || cfg.groups > kMaxGroups)
        throw UsageError("--groups must be from 1 to " + std::to_string(kMaxGroups) + ", got " + std::to_string(cfg.groups));
    if (cfg.epochs < 1 || cfg.epochs > kMaxEpochs)
        throw UsageError("--epochs must be from 1 to " + std::to_string(kMaxEpochs) + ", got " + std::to_string(cfg.epochs));
    if (cfg.train_size > kMaxImages || cfg.val_size > kMaxImages || cfg.test_size > kMaxImages)
        throw UsageError("--train, --val and --test take at most " + std::to_string(kMaxImages) + " images");
    auto positive = [](const char* flag, double v) {
        if (!std::isfinite(v) || !(v > 0))
            throw UsageError(std::string(flag) + " must be a finite number above 0, got " + std::to_string(v));
    };
    positive("--lr", cfg.lr);
    positive("--gain", cfg.gain);
    positive("--logit-bound", cfg.softmax.V);
    if (cfg.flood_sigma != 0) positive("--flood-sigma", cfg.flood_sigma);
    if (cfg.sk_bootstrap && cfg.insecure_seed)
        throw UsageError("--insecure-sk-bootstrap and --insecure-seed are two different test modes: choose one");
}

ckks::ParamsPtr resolve_params(const RunConfig& cfg, std::string& name) {
    ckks::ParamsLiteral lit;
    if (cfg.params) {
        lit = *cfg.params;
        name = lit.name.empty() ? std::string("explicit parameters") : lit.name;
    } else {
        name = cfg.preset.empty() ? default_training_preset() : cfg.preset;
        try {
            lit = ckks::preset_literal(name);
        } catch (const std::exception& e) {
            throw UsageError(std::string("--preset: ") + e.what());
        }
    }
    if (lit.insecure && !cfg.allow_insecure)
        throw UsageError("CKKS parameters " + name + " are INSECURE (test parameters below 128-bit security): pass "
                         "--allow-insecure to use them anyway (tests only), or choose a secure preset");
    try {
        return ckks::Params::create(lit);
    } catch (const std::exception& e) {
        throw UsageError("CKKS parameters " + name + ": " + e.what());
    }
}

void check_insecure_opt_in(const ckks::Params& P, bool allow_insecure, const std::string& where) {
    if (P.literal().insecure && !allow_insecure)
        throw UsageError(where + " holds INSECURE test parameters (" +
                         (P.name().empty() ? std::string("unnamed") : P.name()) +
                         "): pass --allow-insecure to use them anyway (tests only)");
}

void prepare_output_dir(const std::string& dir, const std::string& what, unsigned mode) {
    try {
        ensure_writable_dir(dir, what, mode);
    } catch (const std::runtime_error& e) {
        throw UsageError(e.what());
    }
}

std::vector<int> parse_class_list(const std::string& v) {
    std::vector<int> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ','))
        out.push_back(static_cast<int>(parse_count("--classes", item, 0, kMaxClassLabel)));
    if (!v.empty() && v.back() == ',') throw UsageError("--classes: empty entry at the end of '" + v + "'");
    return out;
}

std::vector<std::string> parse_name_list(const std::string& v) {
    std::vector<std::string> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) throw UsageError("--class-names: an empty name in '" + v + "'");
        out.push_back(item);
    }
    return out;
}

Seed parse_seed_hex(const std::string& flag, const std::string& v) {
    Seed s{};
    bool ok = v.size() == 64;
    for (std::size_t i = 0; ok && i < 32; ++i) {
        const std::string byte = v.substr(2 * i, 2);
        char* end = nullptr;
        const unsigned long b = std::strtoul(byte.c_str(), &end, 16);
        ok = *end == '\0' && std::isxdigit(static_cast<unsigned char>(byte[0])) != 0;
        s[i] = static_cast<std::uint8_t>(b);
    }
    if (!ok) throw UsageError(flag + " expects 64 hexadecimal digits, got '" + v + "'");
    return s;
}

}  // namespace bt::app
