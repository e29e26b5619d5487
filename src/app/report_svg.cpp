// The training-run report as a picture: report.svg (see bt/app/report.hpp).
//
// Text is written from code points: the input strings are decoded as UTF-8 once (invalid
// bytes become U+FFFD) and re-encoded with XML escaping, so that no byte sequence in a
// class name or a config value can make the output invalid.
#include "bt/app/report.hpp"

#include "bt/json.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace bt::app {

namespace {

// ================================================================ text

// Text or attribute content for XML 1.0. Characters XML cannot carry at all (C0
// controls other than tab/newline/return, U+FFFE, U+FFFF) become U+FFFD.
std::string xml_text(const std::u32string& cps) {
    std::string out;
    for (const char32_t cp : cps) {
        switch (cp) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE || cp == 0xFFFF)
                    append_utf8(out, 0xFFFD);
                else
                    append_utf8(out, cp);
        }
    }
    return out;
}

// Escaped for XML and cut to at most `max_chars` characters (an ellipsis marks the cut).
std::string xml_text(const std::string& s, std::size_t max_chars = 1000) {
    std::u32string cps = decode_utf8(s);
    if (cps.size() > max_chars && max_chars >= 1) {
        cps.resize(max_chars - 1);
        cps.push_back(U'\u2026');
    }
    return xml_text(cps);
}

std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string strf(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n < 0 ? std::string() : std::string(buf, std::min(static_cast<std::size_t>(n), sizeof buf - 1));
}

const char* const kDash = "\u2013";  // shown for unknown values

std::string fmt_count(std::size_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string fmt_percent(double fraction, int decimals = 2) {
    return std::isfinite(fraction) ? strf("%.*f %%", decimals, 100 * fraction) : kDash;
}

std::string fmt_duration(double s) {
    if (!std::isfinite(s) || s < 0) return kDash;
    if (s < 1e-3) return strf("%.0f \u00b5s", s * 1e6);
    if (s < 1) return strf("%.0f ms", s * 1e3);
    if (s < 60) return strf("%.1f s", s);
    const auto whole = static_cast<long>(std::llround(s));
    if (whole < 3600) return strf("%ld min %02ld s", whole / 60, whole % 60);
    return strf("%ld h %02ld min", whole / 3600, (whole % 3600) / 60);
}

// A number for a table cell: integers plainly, others with 4 significant digits.
std::string fmt_value(double v) {
    if (!std::isfinite(v)) return kDash;
    if (v == std::floor(v) && std::fabs(v) < 1e15) return strf("%.0f", v);
    return strf("%.4g", v);
}

std::string class_name(const RunReport& r, std::size_t k) {
    return k < r.class_names.size() ? r.class_names[k] : std::to_string(k);
}

}  // namespace

// ================================================================ SVG: primitives

namespace {

constexpr double kWidth = 960;   // canvas width
constexpr double kMargin = 24;   // outer margin and gap between panels
const char* const kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";  // local fonts only
const char* const kInk = "#222222";
const char* const kMuted = "#666666";
const char* const kGrid = "#e3e3e3";

// Coordinates with one decimal: enough for a screen, short, locale-independent.
std::string num(double v) { return strf("%.1f", std::isfinite(v) ? v : 0.0); }

struct Svg {
    std::string body;

    void text(double x, double y, const std::string& escaped, double size, const char* anchor = "start",
              const char* fill = kInk, const char* extra = "") {
        body += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\" text-anchor=\"" +
                anchor + "\" fill=\"" + fill + "\"" + extra + ">" + escaped + "</text>\n";
    }
    void line(double x1, double y1, double x2, double y2, const char* stroke, double width = 1,
              const char* extra = "") {
        body += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
                "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(width) + "\"" + extra + "/>\n";
    }
    void rect(double x, double y, double w, double h, const std::string& fill, const std::string& extra = "") {
        body += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
                "\" fill=\"" + fill + "\"" + extra + "/>\n";
    }
    // A framed panel with a title; returns the y where the content starts.
    double panel(double x, double y, double w, double h, const std::string& title) {
        rect(x, y, w, h, "#fbfbfb", " stroke=\"#dddddd\" rx=\"6\"");
        text(x + 14, y + 22, xml_text(title), 14, "start", kInk, " font-weight=\"bold\"");
        return y + 34;
    }
};

// Tick positions for [lo, hi]: about `target` round steps (1, 2, 2.5 or 5 × 10^k).
struct Ticks {
    double lo = 0, hi = 1, step = 0.2;
    int decimals = 1;
};

Ticks nice_ticks(double lo, double hi, int target, bool integer) {
    if (!(hi > lo)) {
        const double pad = std::max(std::fabs(lo) * 0.05, integer ? 1.0 : 1e-3);
        lo -= pad;
        hi += pad;
    }
    const double raw = (hi - lo) / target;
    const double mag = std::pow(10, std::floor(std::log10(raw)));
    double step = mag;
    for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    if (integer) step = std::max(1.0, std::round(step));
    Ticks t;
    t.step = step;
    t.lo = std::floor(lo / step + 1e-9) * step;
    t.hi = std::ceil(hi / step - 1e-9) * step;
    t.decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    if (step * std::pow(10, t.decimals) != std::round(step * std::pow(10, t.decimals))) ++t.decimals;  // 2.5
    return t;
}

// ================================================================ SVG: line chart

struct Series {
    std::string name;
    const char* color;
    const char* dash;        // stroke-dasharray or ""
    std::vector<double> y;   // one per epoch record, NAN = no point
};

struct ChartBox {
    double x, y, w, h;  // plot area (axes drawn on its left and bottom edges)
};

// One line chart: x = epoch, y = the series. Series with no finite point are left out
// (legend included); a NAN breaks the line; points are marked when few or isolated.
void line_chart(Svg& s, double px, double py, double pw, double ph, const std::string& title,
                const std::vector<double>& xs, std::vector<Series> series, double y_scale, bool percent) {
    const double top = s.panel(px, py, pw, ph, title);
    series.erase(std::remove_if(series.begin(), series.end(),
                                [](const Series& se) {
                                    return std::none_of(se.y.begin(), se.y.end(),
                                                        [](double v) { return std::isfinite(v); });
                                }),
                 series.end());
    // Legend: swatch, name and the last finite value; wraps to a new row when full.
    double lx = px + 14, ly = top;
    for (const Series& se : series) {
        double last = NAN;
        for (const double v : se.y)
            if (std::isfinite(v)) last = v;
        const std::string label = se.name + ": " + (percent ? strf("%.2f %%", last * y_scale) : strf("%.4g", last));
        const double width = 27 + 6.3 * static_cast<double>(decode_utf8(label).size());
        if (lx > px + 14 && lx + width > px + pw - 14) {
            lx = px + 14;
            ly += 16;
        }
        s.line(lx, ly + 4, lx + 22, ly + 4, se.color, 2.5,
               *se.dash ? (std::string(" stroke-dasharray=\"") + se.dash + "\"").c_str() : "");
        s.text(lx + 27, ly + 8, xml_text(label), 11, "start", kInk);
        lx += width + 18;
    }
    const ChartBox box{px + 58, ly + 22, pw - 58 - 18, py + ph - (ly + 22) - 38};
    if (series.empty() || xs.empty()) {
        s.text(box.x + box.w / 2, box.y + box.h / 2, "no data", 12, "middle", kMuted);
        return;
    }
    // Ranges.
    double x_lo = *std::min_element(xs.begin(), xs.end()), x_hi = *std::max_element(xs.begin(), xs.end());
    double y_lo = INFINITY, y_hi = -INFINITY;
    for (const Series& se : series)
        for (const double v : se.y)
            if (std::isfinite(v)) {
                y_lo = std::min(y_lo, v * y_scale);
                y_hi = std::max(y_hi, v * y_scale);
            }
    const Ticks xt = nice_ticks(x_lo, x_hi, 8, true);
    if (!(x_hi > x_lo)) {  // one epoch: centre its point
        x_lo -= 0.5;
        x_hi += 0.5;
    }
    const double pad = (y_hi - y_lo) * 0.05;
    const Ticks yt = nice_ticks(y_lo - pad, y_hi + pad, 5, false);
    auto X = [&](double v) { return box.x + (v - x_lo) / (x_hi - x_lo) * box.w; };
    auto Y = [&](double v) { return box.y + box.h - (v - yt.lo) / (yt.hi - yt.lo) * box.h; };
    // Grid, ticks, axes.
    for (int i = 0;; ++i) {
        const double v = yt.lo + i * yt.step;
        if (v > yt.hi + yt.step * 1e-6) break;
        s.line(box.x, Y(v), box.x + box.w, Y(v), kGrid);
        s.text(box.x - 6, Y(v) + 4, strf("%.*f", yt.decimals, v), 10, "end", kMuted);
    }
    for (double v = std::ceil(x_lo - 1e-9); v <= x_hi + 1e-9; v += 1) {
        if (std::fmod(v, xt.step) != 0) continue;
        s.line(X(v), box.y + box.h, X(v), box.y + box.h + 4, kMuted);
        s.text(X(v), box.y + box.h + 16, strf("%.0f", v), 10, "middle", kMuted);
    }
    s.line(box.x, box.y, box.x, box.y + box.h, kMuted);
    s.line(box.x, box.y + box.h, box.x + box.w, box.y + box.h, kMuted);
    s.text(box.x + box.w / 2, box.y + box.h + 32, "epoch", 11, "middle", kMuted);
    // One path per series; "M" starts again after every NAN.
    const bool mark_all = xs.size() <= 30;
    for (const Series& se : series) {
        std::string d;
        std::vector<std::pair<double, double>> marks;
        bool pen_down = false;
        for (std::size_t i = 0; i < xs.size() && i < se.y.size(); ++i) {
            if (!std::isfinite(se.y[i])) {
                pen_down = false;
                continue;
            }
            const double x = X(xs[i]), y = Y(se.y[i] * y_scale);
            d += (pen_down ? " L" : (d.empty() ? "M" : " M")) + num(x) + " " + num(y);
            const bool isolated = (i == 0 || !std::isfinite(se.y[i - 1])) &&
                                  (i + 1 >= se.y.size() || !std::isfinite(se.y[i + 1]));
            if (mark_all || isolated) marks.emplace_back(x, y);
            pen_down = true;
        }
        s.body += std::string("<path class=\"series\" d=\"") + d + "\" fill=\"none\" stroke=\"" + se.color +
                  "\" stroke-width=\"2\" stroke-linejoin=\"round\"" +
                  (*se.dash ? std::string(" stroke-dasharray=\"") + se.dash + "\"" : std::string()) + "/>\n";
        for (const auto& [x, y] : marks)
            s.body += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"2.8\" fill=\"" + se.color + "\"/>\n";
    }
}

// ================================================================ SVG: panels

double header(Svg& s, const RunReport& r) {
    s.text(kMargin, 40, xml_text(r.title.empty() ? std::string("BlindTuner training run") : r.title, 80), 22,
           "start", kInk, " font-weight=\"bold\"");
    const struct {
        const char* label;
        double value;
        const char* color;
    } cards[] = {{"encrypted head", r.acc_encrypted, "#1f77b4"},
                 {"float64 twin", r.acc_twin, "#ff7f0e"},
                 {"plaintext exact", r.acc_exact, "#555555"}};
    double x = kMargin;
    for (const auto& c : cards) {
        s.rect(x, 58, 172, 78, "#ffffff", std::string(" stroke=\"") + c.color + "\" stroke-width=\"1.5\" rx=\"6\"");
        s.text(x + 12, 74, "test accuracy", 10, "start", kMuted);
        s.text(x + 12, 89, c.label, 12, "start", c.color, " font-weight=\"bold\"");
        s.text(x + 12, 124, fmt_percent(c.value), 28, "start", c.color, " font-weight=\"bold\"");
        x += 184;
    }
    double total = NAN;
    for (const auto& [k, v] : r.seconds)
        if (k == "total") total = v;
    const std::string facts[] = {
        "total time " + fmt_duration(total),
        fmt_count(r.steps) + " steps \u00b7 " + fmt_count(r.bootstraps) + " bootstraps",
        "train " + fmt_count(r.train_size) + " \u00b7 val " + fmt_count(r.val_size) + " \u00b7 test " +
            fmt_count(r.test_size),
        fmt_count(r.classes) + " classes \u00b7 peak memory " +
            (r.peak_memory_bytes ? format_bytes(r.peak_memory_bytes) : std::string(kDash))};
    for (int i = 0; i < 4; ++i)
        s.text(x + 6, 74 + 18.0 * i, xml_text(facts[i], 48), i == 0 ? 14 : 12, "start", i == 0 ? kInk : kMuted,
               i == 0 ? " font-weight=\"bold\"" : "");
    return 160;
}

double charts(Svg& s, const RunReport& r, double y) {
    if (r.epochs.empty()) return y;
    std::vector<double> xs;
    Series enc{"encrypted (val)", "#1f77b4", "", {}}, twin{"float64 twin (val)", "#ff7f0e", "6 4", {}};
    Series train{"train", "#8c8c8c", "2 3", {}}, acc{"encrypted (val)", "#2ca02c", "", {}};
    for (const EpochRecord& e : r.epochs) {
        xs.push_back(e.epoch);
        enc.y.push_back(e.val_loss);
        twin.y.push_back(e.twin_val_loss);
        train.y.push_back(e.train_loss);
        acc.y.push_back(e.val_accuracy);
    }
    const double w = (kWidth - 3 * kMargin) / 2, h = 290;
    line_chart(s, kMargin, y, w, h, "Cross-entropy loss per epoch", xs, {enc, twin, train}, 1, false);
    line_chart(s, 2 * kMargin + w, y, w, h, "Validation accuracy per epoch (%)", xs, {acc}, 100, true);
    return y + h + kMargin;
}

// Light to dark blue by the share of the row (so each true class reads as a recall).
std::string heat_color(double f) {
    f = std::clamp(std::isfinite(f) ? f : 0.0, 0.0, 1.0);
    const double a[3] = {247, 251, 255}, b[3] = {8, 69, 148};
    int c[3];
    for (int i = 0; i < 3; ++i) c[i] = static_cast<int>(std::lround(a[i] + (b[i] - a[i]) * std::sqrt(f)));
    return strf("#%02x%02x%02x", c[0], c[1], c[2]);
}

// Cell side in pixels: the grid stays within 280 px; counts are drawn when they fit.
double confusion_cell(std::size_t c) { return std::clamp(std::floor(280.0 / static_cast<double>(c)), 6.0, 64.0); }

double confusion_height(std::size_t c) {
    if (c == 0) return 0;
    const double cell = confusion_cell(c);
    return 34 + 86 + cell * static_cast<double>(c) + 40;
}

void confusion_panel(Svg& s, const RunReport& r, double px, double py, double pw, double ph) {
    const std::size_t c = r.confusion.size();
    const double top = s.panel(px, py, pw, ph, "Confusion matrix (test split, encrypted head)");
    const double cell = confusion_cell(c);
    const double gx = px + 100, gy = top + 86;  // grid origin: room for row and column names
    long max_count = 0;
    for (const auto& row : r.confusion)
        for (const long v : row) max_count = std::max(max_count, v);
    const double font = std::min(12.0, cell * (max_count >= 1000 ? 0.32 : 0.4));
    const double name_font = std::min(10.0, cell - 1);
    s.text(gx + cell * static_cast<double>(c) / 2, top + 4, "predicted class", 11, "middle", kMuted);
    s.text(px + 16, gy + cell * static_cast<double>(c) / 2, "true class", 11, "middle", kMuted,
           (" transform=\"rotate(-90 " + num(px + 16) + " " + num(gy + cell * static_cast<double>(c) / 2) + ")\"")
               .c_str());
    for (std::size_t j = 0; j < c; ++j) {  // column names, slanted upwards
        const double cx = gx + (static_cast<double>(j) + 0.5) * cell, cy = gy - 6;
        s.text(cx, cy, xml_text(class_name(r, j), 12), name_font, "start", kInk,
               (" transform=\"rotate(-45 " + num(cx) + " " + num(cy) + ")\"").c_str());
    }
    s.text(gx + cell * static_cast<double>(c) + 8, gy - 6, "recall", 10, "start", kMuted);
    for (std::size_t i = 0; i < c; ++i) {
        long row_sum = 0;
        for (const long v : r.confusion[i]) row_sum += v;
        const double y = gy + static_cast<double>(i) * cell;
        s.text(gx - 6, y + cell / 2 + name_font * 0.4, xml_text(class_name(r, i), 14), name_font, "end", kInk);
        for (std::size_t j = 0; j < c; ++j) {
            const long v = r.confusion[i][j];
            const double f = row_sum > 0 ? static_cast<double>(v) / static_cast<double>(row_sum) : 0.0;
            const double x = gx + static_cast<double>(j) * cell;
            s.rect(x, y, cell, cell, heat_color(f),
                   std::string(" class=\"cell\" stroke=\"") + (i == j ? "#333333" : "#ffffff") + "\"");
            if (cell >= 20)
                s.text(x + cell / 2, y + cell / 2 + font * 0.35, std::to_string(v), font, "middle",
                       f > 0.45 ? "#ffffff" : kInk);
        }
        const double recall = row_sum > 0 ? static_cast<double>(r.confusion[i][i]) / static_cast<double>(row_sum) : NAN;
        s.text(gx + cell * static_cast<double>(c) + 8, y + cell / 2 + 4, fmt_percent(recall, 1), 10, "start", kMuted);
    }
    s.text(gx, gy + cell * static_cast<double>(c) + 20, "shade: share of the true class's test images", 10,
           "start", kMuted);
}

double time_height(const RunReport& r) {
    std::size_t n = 0;
    for (const auto& p : r.seconds) n += p.first != "total";
    return 34 + 26 + 24.0 * static_cast<double>(std::max<std::size_t>(n, 1)) + 16;
}

// Horizontal bars, one per stage, scaled to the total (or to the longest stage).
void time_panel(Svg& s, const RunReport& r, double px, double py, double pw, double ph) {
    const double top = s.panel(px, py, pw, ph, "Where the time went");
    double total = NAN, longest = 0;
    for (const auto& [k, v] : r.seconds)
        if (k == "total") total = v;
        else if (std::isfinite(v)) longest = std::max(longest, v);
    const bool has_total = std::isfinite(total) && total > 0;
    const double scale = has_total ? std::max(total, longest) : longest;
    s.text(px + 14, top + 8,
           xml_text("total " + fmt_duration(total) + (has_total ? "  (stages may overlap)" : "")), 11, "start",
           kMuted);
    const double label_w = 110, bar_x = px + 14 + label_w, bar_max = pw - 14 - label_w - 130;
    double y = top + 26;
    std::size_t shown = 0;
    for (const auto& [k, v] : r.seconds) {
        if (k == "total") continue;
        s.text(bar_x - 8, y + 13, xml_text(k, 16), 11, "end", kInk);
        const double w = scale > 0 && std::isfinite(v) && v > 0 ? bar_max * std::min(v / scale, 1.0) : 0;
        s.rect(bar_x, y + 2, bar_max, 16, "#eeeeee");
        s.rect(bar_x, y + 2, std::max(w, 0.0), 16, "#4c78a8", " class=\"bar\"");
        s.text(bar_x + bar_max + 8, y + 14, xml_text(fmt_duration(v)), 11, "start", kInk);
        if (has_total && std::isfinite(v)) s.text(px + pw - 14, y + 14, fmt_percent(v / total, 0), 11, "end", kMuted);
        y += 24;
        ++shown;
    }
    if (shown == 0) s.text(px + 14, y + 12, "no stage timings recorded", 11, "start", kMuted);
}

// Configuration, key sizes and other facts as a three-column list.
double config_panel(Svg& s, const RunReport& r, double y) {
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& [k, v] : r.config) items.emplace_back(k, v);
    for (const auto& [k, v] : r.key_bytes) items.emplace_back(k + " keys", format_bytes(v));
    for (const auto& [k, v] : r.extra) items.emplace_back(k, fmt_value(v));
    if (items.empty()) return y;
    const std::size_t cols = 3, rows = (items.size() + cols - 1) / cols;
    const double h = 34 + 18.0 * static_cast<double>(rows) + 10, col_w = (kWidth - 2 * kMargin - 28) / cols;
    const double top = s.panel(kMargin, y, kWidth - 2 * kMargin, h, "Run configuration");
    for (std::size_t i = 0; i < items.size(); ++i) {
        const double x = kMargin + 14 + col_w * static_cast<double>(i / rows);
        const double ty = top + 10 + 18.0 * static_cast<double>(i % rows);
        s.body += "<text x=\"" + num(x) + "\" y=\"" + num(ty) + "\" font-size=\"11\" fill=\"" + kMuted + "\">" +
                  xml_text(items[i].first, 24) + ": <tspan fill=\"" + kInk + "\">" +
                  xml_text(items[i].second, 44 - std::min<std::size_t>(20, decode_utf8(items[i].first).size())) +
                  "</tspan></text>\n";
    }
    return y + h + kMargin;
}

}  // namespace

std::string report_svg(const RunReport& r) {
    check_report(r);
    Svg s;
    double y = header(s, r);
    y = charts(s, r, y);
    // Confusion matrix and time breakdown side by side (time alone if no matrix).
    const double half = (kWidth - 3 * kMargin) / 2;
    const double row_h = std::max(confusion_height(r.confusion.size()), time_height(r));
    if (!r.confusion.empty()) {
        confusion_panel(s, r, kMargin, y, half, row_h);
        time_panel(s, r, 2 * kMargin + half, y, half, row_h);
    } else {
        time_panel(s, r, kMargin, y, half, row_h);
    }
    y += row_h + kMargin;
    y = config_panel(s, r, y);
    const double height = y;
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + num(kWidth) + "\" height=\"" +
           num(height) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) + "\" font-family=\"" + kFont +
           "\">\n";
    out += "<title>" + xml_text(r.title) + "</title>\n";
    out += "<rect x=\"0\" y=\"0\" width=\"" + num(kWidth) + "\" height=\"" + num(height) + "\" fill=\"#ffffff\"/>\n";
    out += s.body;
    out += "</svg>\n";
    return out;
}

}  // namespace bt::app
