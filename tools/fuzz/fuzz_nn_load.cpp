// libFuzzer target for the data and model loaders of the nn layer: gzip, IDX images and
// labels (plain or gzip), safetensors and a ViT built from one. Byte 0 selects the loader;
// the rest is the file. Every input must load or throw std::runtime_error /
// std::invalid_argument, with allocations bounded by what the file can hold.
#include "bt/nn/idx.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/nn/vit.hpp"

#include <stdexcept>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::vector<std::uint8_t> bytes(data + 1, data + size);
    try {
        switch (data[0] % 4) {
            case 0: bt::nn::gunzip(bytes.data(), bytes.size()); break;
            case 1: bt::nn::parse_idx_images(bytes, "fuzz"); break;
            case 2: bt::nn::parse_idx_labels(bytes, "fuzz"); break;
            default: bt::nn::vit_from_safetensors(bt::nn::parse_safetensors(bytes, "fuzz"), "fuzz"); break;
        }
    } catch (const std::runtime_error&) {
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
