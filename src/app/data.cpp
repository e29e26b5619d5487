// The client's data (see bt/app/data.hpp): choosing classes and splits from what a format
// reader gives (data_formats.cpp), and the features of the splits.
#include "bt/app/data.hpp"

#include "data_formats.hpp"

#include "bt/app/progress.hpp"
#include "bt/hash.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <random>
#include <set>

namespace bt::app {

// ================================================================ formats

const char* format_name(DataFormat f) {
    switch (f) {
        case DataFormat::Idx: return "idx";
        case DataFormat::Npz: return "npz";
        case DataFormat::Cifar10: return "cifar10";
        case DataFormat::Folder: return "folder";
        case DataFormat::Features: return "features";
    }
    return "?";
}

DataFormat parse_format(const std::string& name) {
    for (DataFormat f : {DataFormat::Idx, DataFormat::Npz, DataFormat::Cifar10, DataFormat::Folder, DataFormat::Features})
        if (name == format_name(f)) return f;
    throw UsageError("--format: '" + name + "' is not a data format (idx, npz, cifar10, folder or features)");
}

DataFormat data_format(const RunConfig& cfg) {
    return cfg.format.empty() ? detect_format(cfg.data_dir) : parse_format(cfg.format);
}

std::string data_format_name(const RunConfig& cfg) { return format_name(data_format(cfg)); }

std::vector<int> default_classes(const RunConfig& cfg) {
    try {
        if (data_format(cfg) != DataFormat::Idx) return {};
    } catch (const std::exception&) {
    }
    return {5, 6, 7, 8, 9};
}

std::size_t precomputed_feature_width(const RunConfig& cfg) {
    if (cfg.data_dir.empty() || data_format(cfg) != DataFormat::Features) return 0;
    return feature_width(cfg.data_dir);
}

// ================================================================ the splits

namespace {

// Indices of the items whose label is one of the classes, counted per class.
std::vector<std::size_t> select(const RawSplit& s, const std::vector<int>& map, std::vector<std::size_t>& per_class) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const int k = map[static_cast<std::size_t>(s.labels[i])];
        if (k >= 0) {
            idx.push_back(i);
            ++per_class[static_cast<std::size_t>(k)];
        }
    }
    return idx;
}

// "0..9" or "0, 1, 4" for the labels that occur.
std::string labels_present(const RawSplit& s) {
    std::vector<bool> seen(kMaxClassLabel + 1, false);
    for (std::int64_t l : s.labels) seen[static_cast<std::size_t>(l)] = true;
    std::string out;
    int lo = -1;
    for (int v = 0; v <= kMaxClassLabel + 1; ++v) {
        const bool on = v <= kMaxClassLabel && seen[static_cast<std::size_t>(v)];
        if (on && lo < 0) lo = v;
        if (!on && lo >= 0) {
            out += (out.empty() ? "" : ", ") + std::to_string(lo) + (v - 1 > lo ? ".." + std::to_string(v - 1) : "");
            lo = -1;
        }
    }
    return out.empty() ? "none" : out;
}

void check_classes(const Dataset& ds, const RawData& raw, bool test_only) {
    for (std::size_t k = 0; k < ds.classes.size(); ++k) {
        const std::string c = std::to_string(ds.classes[k]) +
                              (k < ds.class_names.size() ? " (" + ds.class_names[k] + ")" : std::string());
        if (!test_only && ds.per_class_train[k] == 0)
            throw UsageError("class " + c + " has no training images in " + ds.dir + " (its training labels are " +
                             labels_present(raw.train) + "): every class of --classes needs training and test images");
        if (ds.per_class_test[k] == 0)
            throw UsageError("class " + c + " has no test images in " + ds.dir + " (its test labels are " +
                             labels_present(raw.test) + "): every class of --classes needs training and test images");
    }
}

// Every class of the data set: the format's named classes, else the labels that occur.
std::vector<int> all_classes(const RawData& raw, bool test_only) {
    std::vector<int> out;
    if (!raw.names.empty()) {
        for (std::size_t k = 0; k < raw.names.size(); ++k) out.push_back(static_cast<int>(k));
        return out;
    }
    std::set<int> seen;
    for (std::int64_t l : (test_only ? raw.test : raw.train).labels) seen.insert(static_cast<int>(l));
    return std::vector<int>(seen.begin(), seen.end());
}

// The items `idx` of a raw split as class-indexed images or feature rows (images decoded here).
void take(Split& out, const RawSplit& raw, const std::vector<std::size_t>& idx, const std::vector<int>& map,
          std::size_t d) {
    for (std::size_t i : idx) {
        out.labels.push_back(map[static_cast<std::size_t>(raw.labels[i])]);
        if (d) out.features.insert(out.features.end(), raw.features.begin() + static_cast<long>(i * d),
                                   raw.features.begin() + static_cast<long>((i + 1) * d));
        else out.images.push_back(raw.image(i));
    }
}

std::vector<std::size_t> first(std::vector<std::size_t> v, std::size_t n) {
    if (n < v.size()) v.resize(n);
    return v;
}

}  // namespace

static Dataset open_dataset_checked(const RunConfig& cfg, DataFormat f, bool test_only);

Dataset open_dataset(const RunConfig& cfg, bool test_only) {
    check_config(cfg);
    const DataFormat f = data_format(cfg);
    try {
        return open_dataset_checked(cfg, f, test_only);
    } catch (const UsageError&) {
        throw;
    } catch (const std::runtime_error& e) {  // a malformed file: refused before any work (exit 2)
        throw UsageError(std::string(e.what()) + " (--data " + cfg.data_dir + ", format " + format_name(f) + ")");
    }
}

static Dataset open_dataset_checked(const RunConfig& cfg, DataFormat f, bool test_only) {
    RawData raw = read_raw(cfg.data_dir, f, test_only, cfg.seed);
    Dataset ds;
    ds.dir = cfg.data_dir;
    ds.format = f;
    ds.d = raw.d;
    ds.note = raw.note;
    ds.classes = cfg.classes.empty() ? all_classes(raw, test_only) : cfg.classes;
    if (ds.classes.size() < 2)
        throw UsageError("the data set " + cfg.data_dir + " has " + std::to_string(ds.classes.size()) +
                         " class: a classifier needs at least two");
    std::vector<int> map(kMaxClassLabel + 1, -1);
    for (std::size_t k = 0; k < ds.classes.size(); ++k) {
        map[static_cast<std::size_t>(ds.classes[k])] = static_cast<int>(k);
        const auto c = static_cast<std::size_t>(ds.classes[k]);
        if (!raw.names.empty()) ds.class_names.push_back(c < raw.names.size() ? raw.names[c] : std::to_string(c));
    }
    ds.per_class_train.assign(ds.classes.size(), 0);
    ds.per_class_test.assign(ds.classes.size(), 0);
    std::vector<std::size_t> pool = test_only ? std::vector<std::size_t>{} : select(raw.train, map, ds.per_class_train);
    std::vector<std::size_t> per_val(ds.classes.size(), 0);
    std::vector<std::size_t> val_pool = raw.val.present ? select(raw.val, map, per_val) : std::vector<std::size_t>{};
    const std::vector<std::size_t> test_idx = select(raw.test, map, ds.per_class_test);
    check_classes(ds, raw, test_only);
    take(ds.test, raw.test, first(test_idx, cfg.test_size ? cfg.test_size : test_idx.size()), map, ds.d);
    if (test_only) return ds;

    std::mt19937_64 rng(cfg.seed);
    std::shuffle(pool.begin(), pool.end(), rng);
    const bool own_val = !val_pool.empty();
    if (own_val) {
        std::shuffle(val_pool.begin(), val_pool.end(), rng);
        if (val_pool.size() < cfg.val_size)
            ds.note += std::string(ds.note.empty() ? "" : "; ") + "the validation split holds " +
                       std::to_string(val_pool.size()) + " images of the classes: all used";
    } else if (cfg.val_size >= pool.size()) {
        throw UsageError("--val " + std::to_string(cfg.val_size) + " leaves no training images: the classes have " +
                         std::to_string(pool.size()) + " training images in all");
    }
    const std::size_t n_val = own_val ? std::min(cfg.val_size, val_pool.size()) : cfg.val_size;
    const std::size_t avail = pool.size() - (own_val ? 0 : n_val);
    const std::size_t n_train = cfg.train_size == 0 ? avail : cfg.train_size;
    if (n_train > avail)
        throw UsageError("--train " + std::to_string(n_train) + (own_val ? "" : " + --val " + std::to_string(n_val)) +
                         " exceed the " + std::to_string(pool.size()) + " training images of the chosen classes: "
                         "lower them (--train 0 takes all the rest)");
    const std::size_t t0 = own_val ? 0 : n_val;
    take(ds.val, own_val ? raw.val : raw.train, first(own_val ? val_pool : pool, n_val), map, ds.d);
    take(ds.train, raw.train,
         std::vector<std::size_t>(pool.begin() + static_cast<long>(t0), pool.begin() + static_cast<long>(t0 + n_train)),
         map, ds.d);
    return ds;
}

RunConfig with_dataset_classes(const RunConfig& cfg, const Dataset& ds) {
    RunConfig c = cfg;
    c.classes = ds.classes;
    c.format = format_name(ds.format);
    if (c.class_names.empty()) c.class_names = ds.class_names;
    if (c.class_names.size() && c.class_names.size() != c.classes.size())
        throw UsageError("--class-names gives " + std::to_string(c.class_names.size()) + " names for the " +
                         std::to_string(c.classes.size()) + " classes of " + ds.dir + ": give one name per class");
    return c;
}

std::size_t Dataset::bytes() const {
    std::size_t n = (train.features.size() + val.features.size() + test.features.size()) * sizeof(float);
    for (const Split* s : {&train, &val, &test})
        for (const nn::Image& im : s->images) n += im.pixels.size();
    return n;
}

std::string Dataset::describe() const {
    std::string what;
    if (d) {
        what = std::to_string(d) + "-d precomputed features (no transformer)";
    } else if (!test.images.empty()) {
        const nn::Image& im = test.images[0];
        what = "images like " + std::to_string(im.cols) + " x " + std::to_string(im.rows) +
               (im.channels == 3 ? " RGB" : " gray");
    }
    return std::string("format ") + format_name(format) + ", " + what + (note.empty() ? "" : "; " + note);
}

// ================================================================ features

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

namespace {

// Features of a split's images (in chunks so that progress can be shown; each image's
// features depend on that image only), or its precomputed features.
std::vector<float> features_of(const nn::ViT& model, const Split& s, std::size_t d, Progress& progress) {
    if (d) {
        progress.add(s.size());
        return s.features;
    }
    const std::size_t w = model.config.width, chunk = 512;
    std::vector<float> out(s.size() * w);
    std::vector<nn::ImageView> views;
    for (std::size_t b = 0; b < s.size(); b += chunk) {
        const std::size_t n = std::min(chunk, s.size() - b);
        views.clear();
        for (std::size_t k = 0; k < n; ++k) views.push_back(s.images[b + k].view());
        nn::extract_features_views(model, views.data(), n, out.data() + b * w);
        progress.add(n);
    }
    return out;
}

}  // namespace

ClientData extract_client_data(const Dataset& ds, const nn::ViT& model, double gain, int classes, std::ostream& log,
                               const train::Normalizer* given) {
    ClientData cd;
    cd.d = ds.d ? ds.d : model.config.width;
    cd.classes = classes;
    const std::size_t total = given ? ds.test.size() : ds.train.size() + ds.val.size() + ds.test.size();
    Progress progress(log, "features", total, ds.d ? "rows" : "images");
    if (given) {
        if (given->mean.size() != cd.d || given->inv_std.size() != cd.d)
            throw UsageError("the stored feature standardisation has " + std::to_string(given->mean.size()) +
                             " features, the " + (ds.d ? "features of " + ds.dir : std::string("model")) + " give " +
                             std::to_string(cd.d) + ": use the model (or features) the head was trained on");
        cd.norm = *given;
    } else {
        const std::vector<float> f_tr = features_of(model, ds.train, ds.d, progress);
        const std::vector<float> f_va = features_of(model, ds.val, ds.d, progress);
        cd.norm = train::Normalizer::fit(f_tr, ds.train.size(), cd.d, gain);
        cd.train = cd.norm.apply(f_tr, ds.train.size(), cd.d, ds.train.labels, classes);
        cd.val = cd.norm.apply(f_va, ds.val.size(), cd.d, ds.val.labels, classes);
    }
    const std::vector<float> f_te = features_of(model, ds.test, ds.d, progress);
    cd.test = cd.norm.apply(f_te, ds.test.size(), cd.d, ds.test.labels, classes);
    cd.seconds = progress.finish(std::to_string(cd.d) + "-d features (+ bias)" + (ds.d ? ", precomputed" : ""));
    return cd;
}

std::uint64_t features_fingerprint(const train::Features& f) {
    return fnv1a64(f.label.data(), f.label.size() * sizeof(int), fnv1a64(f.x.data(), f.x.size() * sizeof(double)));
}

}  // namespace bt::app
