// The training-run report that bt_train writes into its output directory: report.json
// (the machine-readable record whose field names DESIGN.md fixes) and report.svg (the
// same run as a picture: accuracies, loss and accuracy curves, confusion matrix, time
// breakdown). Written with bt::write_file_atomic (bt/os.hpp).
//
// Everything here is plain text generation: deterministic (same report, same bytes),
// locale-independent, no dependencies. Unknown numbers are NAN and come out as JSON null
// or as a missing point / a dash in the picture.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace bt::app {

// One row per finished epoch.
struct EpochRecord {
    int epoch = 0;               // 1-based
    std::size_t steps = 0;       // cumulative steps at the end of this epoch
    double train_loss = NAN;     // cross-entropy (NAN if unknown)
    double val_loss = NAN;       // validation cross-entropy decrypted by the client
    double val_accuracy = NAN;   // fraction in [0,1]
    double twin_val_loss = NAN;  // the float64 twin's, for comparison
    double seconds = 0;          // elapsed wall time at the end of the epoch
};

// Everything one run reports. Ordered key/value lists keep the order they were filled
// in (JSON and SVG both follow it); keys within one list must be distinct.
struct RunReport {
    std::string title;  // e.g. "BlindTuner encrypted fine-tuning"
    std::vector<std::pair<std::string, std::string>> config;  // preset, batch, lr, ... in order
    std::vector<std::string> class_names;                     // c entries (or empty: "0", "1", ... are used)
    // c × c, rows = true class, cols = predicted (encrypted-trained head on the test
    // split); empty if not computed.
    std::vector<std::vector<long>> confusion;
    // Test accuracy fractions: the released head (as written to head.safetensors, noise-
    // flooded unless --no-flooding), the same head before flooding, the float64 twin, and
    // exact plaintext training.
    double acc_encrypted = NAN, acc_unflooded = NAN, acc_twin = NAN, acc_exact = NAN;
    std::vector<EpochRecord> epochs;
    // "total" first by convention, then the stages: "keygen", "features", "encrypt",
    // "matmul", "softmax", "bootstrap", "update", ... (stages may overlap).
    std::vector<std::pair<std::string, double>> seconds;
    std::size_t steps = 0, bootstraps = 0, train_size = 0, val_size = 0, test_size = 0, classes = 0;
    std::size_t peak_memory_bytes = 0;
    std::vector<std::pair<std::string, std::size_t>> key_bytes;  // "relin", "galois", "bootstrap", ...
    std::vector<std::pair<std::string, double>> extra;           // any other numeric facts
    // What the plan predicted before the run: "peak_memory_bytes", "seconds", parts.
    std::vector<std::pair<std::string, double>> forecast;
};

// Bumped when a field changes meaning or disappears (adding fields does not bump it).
constexpr int kReportVersion = 1;

// Checks what both writers rely on; throws std::invalid_argument saying what is wrong:
// confusion square (c × c) with non-negative counts, class_names empty or c entries,
// no repeated key within config / seconds / key_bytes / extra / forecast.
void check_report(const RunReport& r);

// report.json: one JSON object (RFC 8259, UTF-8, invalid UTF-8 bytes replaced by U+FFFD),
// keys in this fixed order:
//   report_version, title,
//   accuracy {encrypted, encrypted_unflooded, float64_twin, plaintext_exact},
//   seconds {total, <stages in the given order>}   ("total" is null if not given),
//   steps, bootstraps, train_size, val_size, test_size, classes, peak_memory_bytes,
//   config {<key>: "<value>", ...}, class_names [...],
//   epochs [{epoch, steps, train_loss, val_loss, val_accuracy, twin_val_loss, seconds}],
//   confusion [[...], ...], key_bytes {...}, extra {...}, forecast {...}
// Doubles are written in the shortest form that reads back to the same value; NAN and
// ±inf are written as null. Ends with a newline. Calls check_report first.
std::string report_json(const RunReport& r);

// report.svg: a self-contained SVG 1.1 document (no scripts, links, images or external
// fonts). Panels: header (title, the three test accuracies, total time, steps,
// bootstraps, data sizes, peak memory); validation loss per epoch (encrypted, float64
// twin, train loss when present) and validation accuracy per epoch; the confusion
// matrix as a heat map (omitted when empty); the time breakdown as bars; the run
// configuration. NAN points are skipped (the line breaks there). Calls check_report.
std::string report_svg(const RunReport& r);

}  // namespace bt::app
