// The training-run report as JSON: report.json and the checks both writers rely on (see
// bt/app/report.hpp). Strings and numbers go through bt/json.hpp.
#include "bt/app/report.hpp"

#include "bt/json.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace bt::app {

namespace {

template <class V>
void check_unique_keys(const std::vector<std::pair<std::string, V>>& kv, const char* what) {
    std::set<std::string> seen;
    for (const auto& p : kv)
        if (!seen.insert(p.first).second)
            throw std::invalid_argument(std::string("report: key \"") + p.first + "\" appears twice in " + what +
                                        "; each key may appear once");
}

}  // namespace

void check_report(const RunReport& r) {
    const std::size_t c = r.confusion.size();
    for (std::size_t i = 0; i < c; ++i) {
        if (r.confusion[i].size() != c)
            throw std::invalid_argument("report: confusion matrix row " + std::to_string(i) + " has " +
                                        std::to_string(r.confusion[i].size()) + " entries, expected " +
                                        std::to_string(c) + " (c x c, rows = true class)");
        for (const long v : r.confusion[i])
            if (v < 0)
                throw std::invalid_argument("report: confusion matrix row " + std::to_string(i) +
                                            " has a negative count " + std::to_string(v));
    }
    if (c != 0 && !r.class_names.empty() && r.class_names.size() != c)
        throw std::invalid_argument("report: " + std::to_string(r.class_names.size()) +
                                    " class names for a " + std::to_string(c) + " x " + std::to_string(c) +
                                    " confusion matrix");
    check_unique_keys(r.config, "config");
    check_unique_keys(r.seconds, "seconds");
    check_unique_keys(r.key_bytes, "key_bytes");
    check_unique_keys(r.extra, "extra");
    check_unique_keys(r.forecast, "forecast");
}

// ================================================================ JSON

namespace {

// Writes `"key": value` members, one per line at `indent`, as the body of an object.
void json_members(std::string& out, const std::vector<std::pair<std::string, std::string>>& members,
                  const std::string& indent) {
    if (members.empty()) {
        out += "{}";
        return;
    }
    out += "{\n";
    for (std::size_t i = 0; i < members.size(); ++i) {
        out += indent + "  " + json_string(members[i].first) + ": " + members[i].second;
        out += i + 1 < members.size() ? ",\n" : "\n";
    }
    out += indent + "}";
}

std::string json_epoch(const EpochRecord& e) {
    return "{\"epoch\": " + std::to_string(e.epoch) + ", \"steps\": " + std::to_string(e.steps) +
           ", \"train_loss\": " + json_number(e.train_loss) + ", \"val_loss\": " + json_number(e.val_loss) +
           ", \"val_accuracy\": " + json_number(e.val_accuracy) +
           ", \"twin_val_loss\": " + json_number(e.twin_val_loss) + ", \"seconds\": " + json_number(e.seconds) +
           "}";
}

}  // namespace

std::string report_json(const RunReport& r) {
    check_report(r);
    using Members = std::vector<std::pair<std::string, std::string>>;
    std::string out = "{\n";
    out += "  \"report_version\": " + std::to_string(kReportVersion) + ",\n";
    out += "  \"title\": " + json_string(r.title) + ",\n";
    out += "  \"accuracy\": ";
    json_members(out,
                 Members{{"encrypted", json_number(r.acc_encrypted)},
                         {"encrypted_unflooded", json_number(r.acc_unflooded)},
                         {"float64_twin", json_number(r.acc_twin)},
                         {"plaintext_exact", json_number(r.acc_exact)}},
                 "  ");
    out += ",\n  \"seconds\": ";
    Members secs;
    const bool has_total = std::any_of(r.seconds.begin(), r.seconds.end(),
                                       [](const auto& p) { return p.first == "total"; });
    if (!has_total) secs.emplace_back("total", "null");  // DESIGN.md promises seconds.total
    for (const auto& [k, v] : r.seconds)
        if (k == "total") secs.insert(secs.begin(), {k, json_number(v)});
        else secs.emplace_back(k, json_number(v));
    json_members(out, secs, "  ");
    out += ",\n";
    const std::pair<const char*, std::size_t> counts[] = {
        {"steps", r.steps},         {"bootstraps", r.bootstraps}, {"train_size", r.train_size},
        {"val_size", r.val_size},   {"test_size", r.test_size},   {"classes", r.classes},
        {"peak_memory_bytes", r.peak_memory_bytes}};
    for (const auto& [k, v] : counts) out += std::string("  \"") + k + "\": " + std::to_string(v) + ",\n";

    out += "  \"config\": ";
    Members cfg;
    for (const auto& [k, v] : r.config) cfg.emplace_back(k, json_string(v));
    json_members(out, cfg, "  ");

    out += ",\n  \"class_names\": [";
    for (std::size_t i = 0; i < r.class_names.size(); ++i)
        out += (i ? ", " : "") + json_string(r.class_names[i]);
    out += "],\n  \"epochs\": [";
    for (std::size_t i = 0; i < r.epochs.size(); ++i)
        out += (i ? ",\n    " : "\n    ") + json_epoch(r.epochs[i]);
    out += r.epochs.empty() ? "]" : "\n  ]";

    out += ",\n  \"confusion\": [";
    for (std::size_t i = 0; i < r.confusion.size(); ++i) {
        out += i ? ",\n    [" : "\n    [";
        for (std::size_t j = 0; j < r.confusion[i].size(); ++j)
            out += (j ? ", " : "") + std::to_string(r.confusion[i][j]);
        out += "]";
    }
    out += r.confusion.empty() ? "]" : "\n  ]";

    out += ",\n  \"key_bytes\": ";
    Members keys;
    for (const auto& [k, v] : r.key_bytes) keys.emplace_back(k, std::to_string(v));
    json_members(out, keys, "  ");
    out += ",\n  \"extra\": ";
    Members extra;
    for (const auto& [k, v] : r.extra) extra.emplace_back(k, json_number(v));
    json_members(out, extra, "  ");
    out += ",\n  \"forecast\": ";
    Members forecast;
    for (const auto& [k, v] : r.forecast) forecast.emplace_back(k, json_number(v));
    json_members(out, forecast, "  ");
    out += "\n}\n";
    return out;
}

}  // namespace bt::app
