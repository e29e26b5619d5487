// The client's data: the data set opened, its classes and splits chosen and checked before
// anything is computed (open_dataset), then the frozen transformer's features, standardised
// with the bias column appended (extract_client_data).
//
// Formats (--data, told apart by what it points at; --format forces one):
//   idx       a directory of IDX files in the Fashion-MNIST layout
//             ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]);
//   npz       a MedMNIST-style .npz file: train_images, train_labels, test_images,
//             test_labels (val_images, val_labels optional); uint8 images [n, h, w] or
//             [n, h, w, 3], integer labels [n] or [n, 1];
//   cifar10   a directory of CIFAR-10 binary batches: data_batch_1..5.bin, test_batch.bin,
//             batches.meta.txt (class names);
//   folder    a class-per-folder tree: DIR/train/CLASS/*.png (or .pgm/.ppm), DIR/test/...,
//             optional DIR/val/...; without test/, 20 % of each class (chosen with --seed)
//             is the test split;
//   features  precomputed features, no transformer: a directory with train_features.npy,
//             train_labels.npy, test_features.npy, test_labels.npy (val_* optional),
//             float32/float64 [n, d] and integer labels [n]; or a safetensors file with
//             "features" [n, d] and "labels" [n] (20 % of each class held out as the test
//             split) or train_/test_/val_ prefixed pairs.
// Classes are dataset labels (class numbers; for folders the index of the folder name in
// sorted order). Without --classes: 5..9 for IDX (the shipped task on Fashion-MNIST), every
// class of the data set otherwise. Class names: --class-names, else the format's (CIFAR-10
// meta, folder names), else the numbers.
// Validation images come from the format's validation split if it has one, else from the
// training images (--val of them, after a shuffle with --seed).
#pragma once

#include "bt/app/config.hpp"
#include "bt/nn/image.hpp"
#include "bt/nn/vit.hpp"
#include "bt/train/plain.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace bt::app {

enum class DataFormat { Idx, Npz, Cifar10, Folder, Features };
const char* format_name(DataFormat f);  // "idx", "npz", "cifar10", "folder", "features"
// --format's value; UsageError naming the formats.
DataFormat parse_format(const std::string& name);
// cfg.format if set, else detected from cfg.data_dir (UsageError if it cannot be told).
DataFormat data_format(const RunConfig& cfg);
// format_name(data_format(cfg)).
std::string data_format_name(const RunConfig& cfg);
// The default of --classes for cfg's data: {5, ..., 9} for IDX data, empty (every class)
// otherwise or when the data cannot be read (open_dataset then says why).
std::vector<int> default_classes(const RunConfig& cfg);
// The width d of cfg's precomputed features; 0 if the data is not in the features format
// (or cfg.data_dir is empty).
std::size_t precomputed_feature_width(const RunConfig& cfg);

// One split of the run as chosen: decoded images (any size, 1 or 3 channels) or feature
// rows, and their class indices 0..c−1.
struct Split {
    std::vector<nn::Image> images;  // image formats
    std::vector<float> features;    // features format: size() × d
    std::vector<int> labels;
    std::size_t size() const { return labels.size(); }
};

struct Dataset {
    std::string dir;
    DataFormat format = DataFormat::Idx;
    std::size_t d = 0;                     // features format: width of the features (0: images)
    std::vector<int> classes;              // dataset labels, in class order
    std::vector<std::string> class_names;  // the format's names of the classes (empty: none)
    Split train, val, test;
    std::vector<std::size_t> per_class_train, per_class_test;  // images of each class available
    std::string note;                      // how the splits were formed, beyond the obvious
    std::size_t bytes() const;             // pixels or features held
    std::string describe() const;          // one line for the log
};

// Opens the data set, chooses the classes (cfg.classes; empty: every class), shuffles the
// training pool with cfg.seed, takes cfg.val_size validation images (from the format's
// validation split if it has one), cfg.train_size training images (0: the rest) and the
// first cfg.test_size test images of the classes (0: all); images are decoded here, so
// every file is read and checked before any feature is computed. UsageError (nothing
// computed yet) for: missing files (with what the format needs), a class without training
// or test images, sizes beyond what the classes hold. std::runtime_error naming the file
// for corrupt files. With test_only only the test split is read (evaluation of a released head).
Dataset open_dataset(const RunConfig& cfg, bool test_only = false);
// cfg with the data set's classes and their names (cfg.class_names if given, else the
// format's) filled in: what the job is planned with.
RunConfig with_dataset_classes(const RunConfig& cfg, const Dataset& ds);

// Features of the splits (standardised, bias appended, labels set), with progress.
struct ClientData {
    std::size_t d = 0;  // feature width (without the bias)
    int classes = 0;
    train::Features train, val, test;
    train::Normalizer norm;
    double seconds = 0;
};
// Fits the standardisation on the training split; with `given`, uses it and extracts
// only the test split (evaluation). With precomputed features (ds.d > 0) the model is not
// used.
ClientData extract_client_data(const Dataset& ds, const nn::ViT& model, double gain, int classes, std::ostream& log,
                               const train::Normalizer* given = nullptr);

// Loads the frozen transformer; UsageError if the file is missing or not a model.
nn::ViT load_model(const std::string& path);

// A fingerprint of the standardised training features and labels (resume refuses to
// re-encrypt different data under the same randomness).
std::uint64_t features_fingerprint(const train::Features& f);

}  // namespace bt::app
