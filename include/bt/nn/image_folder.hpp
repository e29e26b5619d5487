// A class-per-folder image tree, as torchvision's ImageFolder reads it:
//   DIR/train/CLASS/*.png        training images of class CLASS
//   DIR/test/CLASS/*.png         test images (optional: without it the caller holds out a split)
//   DIR/val/CLASS/*.png          validation images (optional)
// Image files are PNG (bt/nn/png.hpp) and binary PGM/PPM (bt/nn/pnm.hpp), recognised by
// their extension (.png, .pgm, .ppm, .pnm, any case) and decoded by their content. Classes
// are the folder names found under train/, test/ and val/, sorted bytewise; a class's
// label is its index in that order. Hidden entries (".name"), other files and folders
// deeper down are skipped and counted. An image file directly under train/, test/ or val/
// (not in a class folder) is refused with std::runtime_error saying where it belongs.
#pragma once

#include "bt/nn/image.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bt::nn {

struct FolderSplit {
    std::vector<std::string> files;  // paths, sorted by class then name
    std::vector<int> labels;         // class index of each file
};

struct ImageFolder {
    std::string dir;
    std::vector<std::string> classes;  // sorted folder names
    FolderSplit train, val, test;
    bool has_val = false, has_test = false;
    std::size_t skipped = 0;  // entries that are not image files in class folders
};

// Lists the tree (no image is read). std::runtime_error if DIR/train is missing or an
// image lies outside a class folder.
ImageFolder scan_image_folder(const std::string& dir);
bool is_image_file_name(const std::string& name);
// A PNG or binary PGM/PPM file image, told apart by its first bytes.
Image decode_image(const std::uint8_t* p, std::size_t n, const std::string& name);
Image read_image(const std::string& path);

}  // namespace bt::nn
