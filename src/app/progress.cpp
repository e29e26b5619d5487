// Progress lines of long phases (see bt/app/progress.hpp).
#include "bt/app/progress.hpp"

#include "bt/os.hpp"

#include <algorithm>
#include <cstdio>

namespace bt::app {

std::string thousands(std::size_t n) {
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

Progress::Progress(std::ostream& log, std::string what, std::size_t total, std::string unit, double interval)
    : log_(log), what_(std::move(what)), unit_(std::move(unit)), total_(total), interval_(interval),
      t0_(std::chrono::steady_clock::now()), last_(t0_) {}

double Progress::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Progress::add(std::size_t n) {
    done_ = std::min(total_, done_ + n);
    const auto now = std::chrono::steady_clock::now();
    const double quiet = std::chrono::duration<double>(now - last_).count();
    const bool tenth = 10 * (done_ - done_at_last_) >= total_;
    if (quiet < interval_ || done_ >= total_ || (!tenth && quiet < 10)) return;
    last_ = now;
    done_at_last_ = done_;
    const double el = elapsed();
    const double left = done_ ? el * static_cast<double>(total_ - done_) / static_cast<double>(done_) : 0;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%", total_ ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0);
    log_ << "  " << what_ << ": " << thousands(done_) << "/" << thousands(total_) << " " << unit_ << " (" << pct
         << "), elapsed " << format_clock(el) << ", ETA " << format_clock(left) << "\n"
         << std::flush;
}

double Progress::finish(const std::string& extra) {
    const double el = elapsed();
    if (!finished_) {
        finished_ = true;
        char t[32];
        std::snprintf(t, sizeof t, "%.1f s", el);
        log_ << what_ << ": " << thousands(total_) << " " << unit_ << " in " << t << (extra.empty() ? "" : ", ")
             << extra << "\n"
             << std::flush;
    }
    return el;
}

}  // namespace bt::app
