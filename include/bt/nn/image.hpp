// 8-bit images as the data loaders deliver them (IDX, MedMNIST .npz, CIFAR-10, PNG, PGM/PPM):
// samples 0..255, rows × cols × channels with the channels of a pixel interleaved
// (channels 1 = gray, 3 = RGB). A single decoded image (Image), a set of images of one
// size in one allocation (ImageArray), and a non-owning view of either (ImageView).
// Loaders decide every allocation from a file's header and size before making it, and
// refuse images beyond kMaxImageBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bt::nn {

// No image of a data set comes near this (a 16,384 × 16,384 RGB image is 768 MiB).
constexpr std::size_t kMaxImageBytes = std::size_t{1} << 30;

struct ImageView {
    const std::uint8_t* pixels = nullptr;  // rows × cols × channels
    std::size_t rows = 0, cols = 0, channels = 1;
};

struct Image {
    std::size_t rows = 0, cols = 0, channels = 1;
    std::vector<std::uint8_t> pixels;  // rows × cols × channels, interleaved
    ImageView view() const { return {pixels.data(), rows, cols, channels}; }
};

struct ImageArray {
    std::size_t count = 0, rows = 0, cols = 0, channels = 1;
    std::vector<std::uint8_t> pixels;  // count × rows × cols × channels, row-major, interleaved
    std::size_t image_bytes() const { return rows * cols * channels; }
    const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * image_bytes(); }
    ImageView view(std::size_t i) const { return {image(i), rows, cols, channels}; }
};

}  // namespace bt::nn
