// Binary PGM (P5, gray) and PPM (P6, RGB) images, as netpbm writes them: the magic, width,
// height and maxval as decimal numbers separated by white space (comments from '#' to the
// end of a line allowed between them), one white-space byte, then the samples. maxval 1..255
// (samples scaled to 0..255 as round(v · 255 / maxval)); 16-bit files (maxval > 255), ASCII
// P1–P3, bitmaps (P4) and PAM (P7) are refused, as are samples above maxval, truncated
// data and trailing bytes. Errors are std::runtime_error naming the file, what was
// expected and what was found.
#pragma once

#include "bt/nn/image.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace bt::nn {

bool is_pnm(const std::uint8_t* p, std::size_t n);  // starts with P5 or P6
Image decode_pnm(const std::uint8_t* p, std::size_t n, const std::string& name);
// A binary PGM (1 channel) or PPM (3 channels) file image with maxval 255.
std::vector<std::uint8_t> encode_pnm(const Image& im);

}  // namespace bt::nn
