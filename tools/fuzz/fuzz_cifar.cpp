// libFuzzer target for the CIFAR-10 batch and class-name readers (make fuzz). Every input
// must either load or throw std::runtime_error. The first byte picks the reader (and, for
// batches, the number of classes).
#include "bt/nn/cifar.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

using namespace bt::nn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    try {
        if (data[0] & 1) {
            const CifarBatch b = parse_cifar_batch(data + 1, size - 1, "fuzz.bin", 2 + data[0] % 16);
            if (b.labels.size() != b.images.count || b.images.pixels.size() != b.images.count * 3072) __builtin_trap();
        } else {
            (void)parse_cifar_names(std::string(reinterpret_cast<const char*>(data + 1), size - 1), "fuzz.txt");
        }
    } catch (const std::runtime_error&) {
    }
    return 0;
}
