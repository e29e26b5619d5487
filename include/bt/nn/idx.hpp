// IDX dataset files (the MNIST / Fashion-MNIST layout), plain or gzip-compressed (as
// Debian's dataset-fashion-mnist installs them: /usr/share/datasets/fashion-mnist/
// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz). Gzip is detected from the magic bytes
// and decoded by our own inflate (bt/nn/inflate.hpp).
//
// Format: 2 zero bytes, a type byte (0x08 = unsigned byte, the only type accepted here),
// the number of dimensions, then each dimension as a big-endian uint32, then the data.
// Images are 3-dimensional (count × rows × cols, magic 0x00000803), labels 1-dimensional
// (count, magic 0x00000801). Everything is checked: magic, dimension count, sizes against
// the file size, label range. Errors throw std::runtime_error naming the file, what was
// expected and what was found.
#pragma once

#include "bt/nn/image.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bt::nn {

// count × rows × cols, one channel (bt/nn/image.hpp).
using IdxImages = ImageArray;

struct IdxLabels {
    std::vector<std::uint8_t> labels;  // count
    std::size_t count() const { return labels.size(); }
};

IdxImages read_idx_images(const std::string& path);
IdxLabels read_idx_labels(const std::string& path);
// From a file image already in memory (gzip or plain); `name` is used in messages.
IdxImages parse_idx_images(const std::vector<std::uint8_t>& bytes, const std::string& name);
IdxLabels parse_idx_labels(const std::vector<std::uint8_t>& bytes, const std::string& name);

// Where Debian installs Fashion-MNIST; `split` is "train" or "t10k".
std::string fashion_mnist_path(const std::string& split, bool images);

}  // namespace bt::nn
