// libFuzzer target for the image decoders: PNG and binary PGM/PPM (make fuzz). Every input
// must either decode or throw std::runtime_error: never crash, hang, read out of bounds,
// leak, or allocate beyond what its header and size allow.
#include "bt/nn/image_folder.hpp"
#include "bt/nn/png.hpp"

#include <cstdint>
#include <stdexcept>

using namespace bt::nn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const Image im = decode_image(data, size, "fuzz");
        if (im.pixels.size() != im.rows * im.cols * im.channels) __builtin_trap();
    } catch (const std::runtime_error&) {
    }
    return 0;
}
