// The client's data (see bt/app/data.hpp).
#include "bt/app/data.hpp"

#include "bt/app/progress.hpp"
#include "bt/hash.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

namespace bt::app {

namespace {

std::string idx_path(const std::string& dir, const std::string& split, bool images) {
    const std::string base = path_join(dir, split + (images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte"));
    for (const std::string& p : {base, base + ".gz"})
        if (path_exists(p)) return p;
    throw UsageError("dataset file " + base + "[.gz] not found: on Debian install Fashion-MNIST with "
                     "`apt-get install dataset-fashion-mnist`, or pass --data DIR with an IDX dataset in the "
                     "Fashion-MNIST layout ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])");
}

// Indices of the images whose label is one of the classes, and the class index of each label.
std::vector<std::size_t> select(const nn::IdxLabels& lb, const std::vector<int>& map,
                                std::vector<std::size_t>& per_class) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < lb.count(); ++i)
        if (map[lb.labels[i]] >= 0) {
            idx.push_back(i);
            ++per_class[static_cast<std::size_t>(map[lb.labels[i]])];
        }
    return idx;
}

// "0..9" or "0 1 4" for the labels that occur.
std::string labels_present(const nn::IdxLabels& lb) {
    std::vector<bool> seen(256, false);
    for (std::uint8_t l : lb.labels) seen[l] = true;
    std::string s;
    int lo = -1;
    for (int v = 0; v <= 256; ++v) {
        const bool on = v < 256 && seen[static_cast<std::size_t>(v)];
        if (on && lo < 0) lo = v;
        if (!on && lo >= 0) {
            s += (s.empty() ? "" : ", ") + std::to_string(lo) + (v - 1 > lo ? ".." + std::to_string(v - 1) : "");
            lo = -1;
        }
    }
    return s.empty() ? "none" : s;
}

void check_classes(const RunConfig& cfg, const Dataset& ds, const nn::IdxLabels& tr, const nn::IdxLabels& te,
                   bool test_only) {
    for (std::size_t k = 0; k < cfg.classes.size(); ++k) {
        const std::string c = std::to_string(cfg.classes[k]);
        if (!test_only && ds.per_class_train[k] == 0)
            throw UsageError("class " + c + " has no training images in " + ds.dir + " (its training labels are " +
                             labels_present(tr) + "): every class of --classes needs training and test images");
        if (ds.per_class_test[k] == 0)
            throw UsageError("class " + c + " has no test images in " + ds.dir + " (its test labels are " +
                             labels_present(te) + "): every class of --classes needs training and test images");
    }
}

std::vector<int> labels_of(const nn::IdxLabels& lb, const std::vector<std::size_t>& idx, const std::vector<int>& map) {
    std::vector<int> out;
    out.reserve(idx.size());
    for (std::size_t i : idx) out.push_back(map[lb.labels[i]]);
    return out;
}

}  // namespace

nn::ViT load_model(const std::string& path) {
    if (!path_exists(path))
        throw UsageError("model " + path + " not found: pass --model FILE (safetensors), set BT_MODEL, or run from "
                         "the source directory, which ships models/" + kModelFile);
    try {
        return nn::load_vit(path);
    } catch (const std::exception& e) {
        throw UsageError("model " + path + " cannot be used: " + e.what());
    }
}

Dataset open_dataset(const RunConfig& cfg, bool test_only) {
    if (!is_directory(cfg.data_dir))
        throw UsageError("data directory " + cfg.data_dir + " not found: on Debian `apt-get install "
                         "dataset-fashion-mnist`, or pass --data DIR");
    Dataset ds;
    ds.dir = cfg.data_dir;
    std::vector<int> map(256, -1);
    for (std::size_t k = 0; k < cfg.classes.size(); ++k) map[static_cast<std::size_t>(cfg.classes[k])] = static_cast<int>(k);
    ds.per_class_train.assign(cfg.classes.size(), 0);
    ds.per_class_test.assign(cfg.classes.size(), 0);
    nn::IdxLabels tr_lb, te_lb;
    if (!test_only) {
        tr_lb = nn::read_idx_labels(idx_path(cfg.data_dir, "train", false));
        ds.train_images = nn::read_idx_images(idx_path(cfg.data_dir, "train", true));
    }
    te_lb = nn::read_idx_labels(idx_path(cfg.data_dir, "t10k", false));
    ds.test_images = nn::read_idx_images(idx_path(cfg.data_dir, "t10k", true));
    if ((!test_only && ds.train_images.count != tr_lb.count()) || ds.test_images.count != te_lb.count())
        throw std::runtime_error("dataset " + cfg.data_dir + ": image and label counts differ (train " +
                                 std::to_string(ds.train_images.count) + " vs " + std::to_string(tr_lb.count()) +
                                 ", test " + std::to_string(ds.test_images.count) + " vs " +
                                 std::to_string(te_lb.count()) + "): the files do not belong together");
    std::vector<std::size_t> pool = test_only ? std::vector<std::size_t>{} : select(tr_lb, map, ds.per_class_train);
    ds.test_idx = select(te_lb, map, ds.per_class_test);
    check_classes(cfg, ds, tr_lb, te_lb, test_only);
    if (cfg.test_size > 0 && cfg.test_size < ds.test_idx.size()) ds.test_idx.resize(cfg.test_size);
    ds.test_labels = labels_of(te_lb, ds.test_idx, map);
    if (test_only) return ds;

    std::mt19937_64 rng(cfg.seed);
    std::shuffle(pool.begin(), pool.end(), rng);
    if (cfg.val_size >= pool.size())
        throw UsageError("--val " + std::to_string(cfg.val_size) + " leaves no training images: the classes have " +
                         std::to_string(pool.size()) + " training images in all");
    const std::size_t avail = pool.size() - cfg.val_size;
    const std::size_t n_train = cfg.train_size == 0 ? avail : cfg.train_size;
    if (n_train > avail)
        throw UsageError("--train " + std::to_string(n_train) + " + --val " + std::to_string(cfg.val_size) +
                         " exceed the " + std::to_string(pool.size()) + " training images of the chosen classes: "
                         "lower them (--train 0 takes all the rest)");
    ds.val_idx.assign(pool.begin(), pool.begin() + static_cast<long>(cfg.val_size));
    ds.train_idx.assign(pool.begin() + static_cast<long>(cfg.val_size),
                        pool.begin() + static_cast<long>(cfg.val_size + n_train));
    ds.train_labels = labels_of(tr_lb, ds.train_idx, map);
    ds.val_labels = labels_of(tr_lb, ds.val_idx, map);
    return ds;
}

namespace {

// Features of the images `idx` of `im`, in chunks so that progress can be shown (each
// image's features depend on that image only).
std::vector<float> features_of(const nn::ViT& model, const nn::IdxImages& im, const std::vector<std::size_t>& idx,
                               Progress& progress) {
    const std::size_t d = model.config.width, px = im.rows * im.cols, chunk = 512;
    std::vector<float> out(idx.size() * d);
    std::vector<std::uint8_t> pixels;
    for (std::size_t s = 0; s < idx.size(); s += chunk) {
        const std::size_t n = std::min(chunk, idx.size() - s);
        pixels.resize(n * px);
        for (std::size_t k = 0; k < n; ++k) std::memcpy(pixels.data() + k * px, im.image(idx[s + k]), px);
        nn::extract_features_u8(model, pixels.data(), n, im.rows, im.cols, 1, out.data() + s * d);
        progress.add(n);
    }
    return out;
}

}  // namespace

ClientData extract_client_data(const Dataset& ds, const nn::ViT& model, double gain, int classes, std::ostream& log,
                               const train::Normalizer* given) {
    ClientData cd;
    cd.d = model.config.width;
    cd.classes = classes;
    const std::size_t total = given ? ds.test_idx.size() : ds.train_idx.size() + ds.val_idx.size() + ds.test_idx.size();
    Progress progress(log, "features", total, "images");
    if (given) {
        if (given->mean.size() != cd.d || given->inv_std.size() != cd.d)
            throw UsageError("the stored feature standardisation has " + std::to_string(given->mean.size()) +
                             " features, the model gives " + std::to_string(cd.d) +
                             ": use the model the head was trained on");
        cd.norm = *given;
    } else {
        const std::vector<float> f_tr = features_of(model, ds.train_images, ds.train_idx, progress);
        const std::vector<float> f_va = features_of(model, ds.train_images, ds.val_idx, progress);
        cd.norm = train::Normalizer::fit(f_tr, ds.train_idx.size(), cd.d, gain);
        cd.train = cd.norm.apply(f_tr, ds.train_idx.size(), cd.d, ds.train_labels, classes);
        cd.val = cd.norm.apply(f_va, ds.val_idx.size(), cd.d, ds.val_labels, classes);
    }
    const std::vector<float> f_te = features_of(model, ds.test_images, ds.test_idx, progress);
    cd.test = cd.norm.apply(f_te, ds.test_idx.size(), cd.d, ds.test_labels, classes);
    cd.seconds = progress.finish(std::to_string(cd.d) + "-d features (+ bias)");
    return cd;
}

std::uint64_t features_fingerprint(const train::Features& f) {
    return fnv1a64(f.label.data(), f.label.size() * sizeof(int), fnv1a64(f.x.data(), f.x.size() * sizeof(double)));
}

}  // namespace bt::app
