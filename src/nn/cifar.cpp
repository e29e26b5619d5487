// CIFAR-10 binary batches; see include/bt/nn/cifar.hpp.
#include "bt/nn/cifar.hpp"

#include "bt/os.hpp"

#include <sstream>
#include <stdexcept>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error("CIFAR-10 " + name + ": " + what);
}

constexpr std::size_t kPlane = kCifarSide * kCifarSide;

}  // namespace

CifarBatch parse_cifar_batch(const std::uint8_t* p, std::size_t n, const std::string& name, std::size_t classes) {
    if (n == 0 || n % kCifarRecord != 0)
        fail(name, std::to_string(n) + " bytes is not a whole number of 3,073-byte records (a label byte and a 32 x 32 "
                                       "RGB image): " +
                       (n % 3074 == 0 && n ? "CIFAR-100's 3,074-byte records are not read" : "truncated or not a CIFAR-10 batch"));
    CifarBatch b;
    const std::size_t count = n / kCifarRecord;
    b.images.count = count;
    b.images.rows = b.images.cols = kCifarSide;
    b.images.channels = 3;
    b.images.pixels.resize(count * 3 * kPlane);
    b.labels.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t* rec = p + i * kCifarRecord;
        if (rec[0] >= classes)
            fail(name, "record " + std::to_string(i) + " has label " + std::to_string(rec[0]) + ", expected 0.." +
                           std::to_string(classes - 1) + " (the classes of batches.meta.txt)");
        b.labels[i] = rec[0];
        std::uint8_t* out = b.images.pixels.data() + i * 3 * kPlane;
        for (std::size_t px = 0; px < kPlane; ++px)
            for (std::size_t c = 0; c < 3; ++c) out[3 * px + c] = rec[1 + c * kPlane + px];
    }
    return b;
}

CifarBatch read_cifar_batch(const std::string& path, std::size_t classes) {
    const std::vector<std::uint8_t> bytes = bt::read_file(path);
    return parse_cifar_batch(bytes.data(), bytes.size(), path, classes);
}

std::vector<std::string> parse_cifar_names(const std::string& text, const std::string& name) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.pop_back();
        if (line.empty()) continue;
        for (const char c : line)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                fail(name, "class name on line " + std::to_string(out.size() + 1) + " holds a control character");
        out.push_back(line);
        if (out.size() > 256) fail(name, "more than 256 class names: not a batches.meta.txt");
    }
    if (out.size() < 2) fail(name, std::to_string(out.size()) + " class names, expected one per line (10 for CIFAR-10)");
    return out;
}

std::vector<std::uint8_t> encode_cifar_batch(const ImageArray& images, const std::vector<std::uint8_t>& labels) {
    if (images.rows != kCifarSide || images.cols != kCifarSide || images.channels != 3 || labels.size() != images.count)
        throw std::invalid_argument("encode_cifar_batch: expected 32 x 32 x 3 images and one label each");
    std::vector<std::uint8_t> out(images.count * kCifarRecord);
    for (std::size_t i = 0; i < images.count; ++i) {
        std::uint8_t* rec = out.data() + i * kCifarRecord;
        rec[0] = labels[i];
        const std::uint8_t* im = images.image(i);
        for (std::size_t px = 0; px < kPlane; ++px)
            for (std::size_t c = 0; c < 3; ++c) rec[1 + c * kPlane + px] = im[3 * px + c];
    }
    return out;
}

}  // namespace bt::nn
