// Progress of a long phase (features, key generation, encryption, training, inference):
// a line with the count, the share done, the time elapsed and an estimate of the time
// left, once the phase has run `interval` seconds and then whenever another tenth is done
// or 10 seconds have passed (whichever comes first, never more often than `interval`), so
// short phases stay quiet and long ones print about ten lines; then one closing line with
// the total and the time taken.
#pragma once

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>

namespace bt::app {

class Progress {
public:
    // `what` names the phase ("features"), `unit` the items ("images").
    Progress(std::ostream& log, std::string what, std::size_t total, std::string unit, double interval = 2.0);
    // `n` more items are done.
    void add(std::size_t n = 1);
    // The closing line ("features: 6,280 images in 0:12"), with `extra` appended if given.
    // Returns the seconds the phase took.
    double finish(const std::string& extra = "");
    double elapsed() const;

private:
    std::ostream& log_;
    std::string what_, unit_;
    std::size_t total_, done_ = 0, done_at_last_ = 0;
    double interval_;
    std::chrono::steady_clock::time_point t0_, last_;
    bool finished_ = false;
};

// "6,280"
std::string thousands(std::size_t n);

}  // namespace bt::app
