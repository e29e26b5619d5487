// CIFAR-10 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
// data_batch_1.bin .. data_batch_5.bin and test_batch.bin, each a sequence of 3,073-byte
// records: one label byte (0..9), then a 32 × 32 image as 1,024 red, 1,024 green and 1,024
// blue bytes, rows top to bottom. batches.meta.txt names the classes, one per line.
//
// Images are returned interleaved (32 × 32 × 3, as bt/nn/image.hpp). A file whose size is
// not a whole number of records (truncated; also CIFAR-100's 3,074-byte records) and a
// label at or above the number of classes are refused with std::runtime_error naming the
// file, what was expected and what was found.
#pragma once

#include "bt/nn/image.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bt::nn {

constexpr std::size_t kCifarSide = 32, kCifarRecord = 1 + 3 * 32 * 32;

struct CifarBatch {
    ImageArray images;                 // count × 32 × 32 × 3
    std::vector<std::uint8_t> labels;  // count, each below the number of classes
};

CifarBatch parse_cifar_batch(const std::uint8_t* p, std::size_t n, const std::string& name, std::size_t classes = 10);
CifarBatch read_cifar_batch(const std::string& path, std::size_t classes = 10);
// batches.meta.txt: class names in label order, one per line (blank lines and trailing
// white space ignored; at most 256 names, each printable).
std::vector<std::string> parse_cifar_names(const std::string& text, const std::string& name);
// A batch file image (records in CIFAR's planar layout) of interleaved 32 × 32 × 3 images.
std::vector<std::uint8_t> encode_cifar_batch(const ImageArray& images, const std::vector<std::uint8_t>& labels);

}  // namespace bt::nn
