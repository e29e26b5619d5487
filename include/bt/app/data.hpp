// The client's data: the dataset split chosen and checked before anything is computed
// (open_dataset), then the frozen transformer's features, standardised with the bias
// column appended (extract_client_data). Today's format: IDX files in the Fashion-MNIST
// layout ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]).
#pragma once

#include "bt/app/config.hpp"
#include "bt/nn/idx.hpp"
#include "bt/nn/vit.hpp"
#include "bt/train/plain.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace bt::app {

// The images of the run and which of them form each split; labels mapped to class
// indices 0..c−1 in the order of cfg.classes.
struct Dataset {
    std::string dir;
    nn::IdxImages train_images, test_images;
    std::vector<std::size_t> train_idx, val_idx, test_idx;  // into train_images / test_images
    std::vector<int> train_labels, val_labels, test_labels;  // class indices, per split
    std::vector<std::size_t> per_class_train, per_class_test;  // images of each class available
};

// Reads the dataset, selects the classes, shuffles the training pool with cfg.seed,
// takes cfg.val_size validation images, cfg.train_size training images (0: the rest) and
// the first cfg.test_size test images of the classes (0: all). UsageError (nothing
// computed yet) for: missing files (with how to install them), a class without training
// or test images, sizes beyond what the classes hold. std::runtime_error for corrupt files.
// With test_only the training split is not selected (evaluation of a released head).
Dataset open_dataset(const RunConfig& cfg, bool test_only = false);

// Features of the splits (standardised, bias appended, labels set), with progress.
struct ClientData {
    std::size_t d = 0;  // feature width (without the bias)
    int classes = 0;
    train::Features train, val, test;
    train::Normalizer norm;
    double seconds = 0;
};
// Fits the standardisation on the training split; with `given`, uses it and extracts
// only the test split (evaluation).
ClientData extract_client_data(const Dataset& ds, const nn::ViT& model, double gain, int classes, std::ostream& log,
                               const train::Normalizer* given = nullptr);

// Loads the frozen transformer; UsageError if the file is missing or not a model.
nn::ViT load_model(const std::string& path);

// A fingerprint of the standardised training features and labels (resume refuses to
// re-encrypt different data under the same randomness).
std::uint64_t features_fingerprint(const train::Features& f);

}  // namespace bt::app
