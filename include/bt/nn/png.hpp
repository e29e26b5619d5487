// PNG images (ISO/IEC 15948), decoded by our own code on bt/nn/inflate.hpp: colour types
// gray (bit depths 1, 2, 4, 8), RGB (8), palette (1, 2, 4, 8), gray + alpha (8) and RGBA
// (8); every filter type (None, Sub, Up, Average, Paeth). The result has 1 channel (gray)
// or 3 (RGB, palette expanded); alpha is dropped, as PIL's convert("L") / convert("RGB")
// do. Gray samples below 8 bits are scaled to 0..255 (v · 255 / (2^depth − 1)).
//
// Refused with std::runtime_error naming the file, what was expected and what was found:
// a wrong signature, a chunk CRC mismatch, a missing or misplaced IHDR, PLTE or IEND, an
// unknown critical chunk, invalid header fields, interlaced (Adam7) images, 16-bit
// samples, palette indices beyond the palette, an unknown filter type, a zlib stream with a
// bad header or Adler-32, and image data that inflates to more or fewer bytes than the
// header implies (the output is capped at that size, so a small file cannot make us
// allocate more than its header, itself bounded by kMaxImageBytes and by what DEFLATE can
// produce from the file's IDAT bytes).
#pragma once

#include "bt/nn/image.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace bt::nn {

struct PngInfo {
    std::size_t width = 0, height = 0;
    unsigned bit_depth = 0, color_type = 0;
    bool interlaced = false;
    std::size_t channels() const { return color_type == 0 || color_type == 4 ? 1 : 3; }  // after decoding
};

bool is_png(const std::uint8_t* p, std::size_t n);
// The signature and IHDR only (no decoding): what a folder scan checks up front.
PngInfo png_info(const std::uint8_t* p, std::size_t n, const std::string& name);
Image decode_png(const std::uint8_t* p, std::size_t n, const std::string& name);

}  // namespace bt::nn
