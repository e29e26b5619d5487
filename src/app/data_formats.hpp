// The data formats behind --data (private to src/app/): telling them apart, and reading
// each into one common form (RawData) from which open_dataset (data.cpp) chooses the
// classes and splits. Missing files are UsageErrors saying what each format needs;
// corrupt files are std::runtime_errors from the nn loaders, naming the file.
#pragma once

#include "bt/app/data.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bt::app {

// A split as the format holds it: the dataset label of every image (or feature row) and
// how to get image i (copied out of an array, or decoded from its file).
struct RawSplit {
    bool present = false;
    std::vector<std::int64_t> labels;             // each in 0..kMaxClassLabel (checked)
    std::function<nn::Image(std::size_t)> image;  // image formats
    std::vector<float> features;                  // features format: rows × d
    std::size_t size() const { return labels.size(); }
};

struct RawData {
    DataFormat format = DataFormat::Idx;
    std::size_t d = 0;                // features format: the width
    RawSplit train, val, test;
    std::vector<std::string> names;   // class names by dataset label (CIFAR-10, folders), or empty
    std::string note;                 // what the reader did beyond the obvious (held-out test split, skipped files)
};

DataFormat detect_format(const std::string& path);
// Reads every split (only the test split with test_only); `seed` chooses the held-out
// test split of a class-per-folder tree without test/ or of a features file without one.
RawData read_raw(const std::string& path, DataFormat f, bool test_only, std::uint64_t seed);
// The width d of precomputed features (their files' headers).
std::size_t feature_width(const std::string& path);

}  // namespace bt::app
