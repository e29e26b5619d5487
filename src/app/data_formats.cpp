// The data formats behind --data (see data_formats.hpp): detection, then one reader per
// format into RawData.
#include "data_formats.hpp"

#include "bt/nn/cifar.hpp"
#include "bt/nn/idx.hpp"
#include "bt/nn/image_folder.hpp"
#include "bt/nn/npy.hpp"
#include "bt/nn/zip.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace bt::app {

namespace {

bool ends_with(const std::string& s, const std::string& e) {
    return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

bool exists_gz(const std::string& base) { return path_exists(base) || path_exists(base + ".gz"); }

// Every label a class label (0..255): a file whose labels are outside is refused.
void check_labels(const std::vector<std::int64_t>& labels, const std::string& name) {
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] > kMaxClassLabel)
            throw std::runtime_error(name + ": label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                                     ", outside the classes 0.." + std::to_string(kMaxClassLabel) +
                                     " (labels are class numbers)");
}

// A split whose images are one array (IDX, .npz, CIFAR-10).
RawSplit array_split(nn::ImageArray images, std::vector<std::int64_t> labels) {
    RawSplit s;
    s.present = true;
    s.labels = std::move(labels);
    auto arr = std::make_shared<const nn::ImageArray>(std::move(images));
    s.image = [arr](std::size_t i) {
        nn::Image im;
        im.rows = arr->rows;
        im.cols = arr->cols;
        im.channels = arr->channels;
        im.pixels.assign(arr->image(i), arr->image(i) + arr->image_bytes());
        return im;
    };
    return s;
}

// Holds out ceil(20 %) of each class (chosen with `seed`) from `from` into `to`: the test
// split of a data set that has none. Order within each split is kept.
void hold_out_test(RawSplit& from, RawSplit& to, std::uint64_t seed, const std::function<void(std::size_t, bool)>& move) {
    std::vector<std::vector<std::size_t>> per_class(kMaxClassLabel + 1);
    for (std::size_t i = 0; i < from.size(); ++i) per_class[static_cast<std::size_t>(from.labels[i])].push_back(i);
    std::mt19937_64 rng(seed ^ 0x7465737473706c74ull);  // its own stream: "testsplt"
    std::vector<bool> test(from.size(), false);
    for (auto& idx : per_class) {
        std::shuffle(idx.begin(), idx.end(), rng);
        const std::size_t k = (idx.size() + 4) / 5;
        for (std::size_t j = 0; j < k; ++j) test[idx[j]] = true;
    }
    for (std::size_t i = 0; i < from.size(); ++i) move(i, test[i]);
    to.present = true;
}

// ---------------------------------------------------------------- IDX
std::string idx_path(const std::string& dir, const std::string& split, bool images) {
    const std::string base = path_join(dir, split + (images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte"));
    for (const std::string& p : {base, base + ".gz"})
        if (path_exists(p)) return p;
    throw UsageError("dataset file " + base + "[.gz] not found: on Debian install Fashion-MNIST with "
                     "`apt-get install dataset-fashion-mnist`, or pass --data DIR with an IDX dataset in the "
                     "Fashion-MNIST layout ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])");
}

RawSplit idx_split(const std::string& dir, const std::string& split) {
    const std::string lp = idx_path(dir, split, false), ip = idx_path(dir, split, true);
    const nn::IdxLabels lb = nn::read_idx_labels(lp);
    nn::IdxImages im = nn::read_idx_images(ip);
    if (im.count != lb.count())
        throw std::runtime_error("dataset " + dir + ": " + ip + " holds " + std::to_string(im.count) + " images, " + lp +
                                 " " + std::to_string(lb.count()) + " labels: the files do not belong together");
    return array_split(std::move(im), std::vector<std::int64_t>(lb.labels.begin(), lb.labels.end()));
}

RawData read_idx(const std::string& dir, bool test_only) {
    RawData r;
    if (!test_only) r.train = idx_split(dir, "train");
    r.test = idx_split(dir, "t10k");
    return r;
}

// ---------------------------------------------------------------- MedMNIST .npz
RawSplit npz_split(const nn::Npz& z, const std::string& split) {
    const std::string ik = split + "_images", lk = split + "_labels";
    const std::string where = z.name() + " (" + ik + ")", lwhere = z.name() + " (" + lk + ")";
    const std::vector<std::uint8_t> ib = z.member(ik), lb = z.member(lk);
    const nn::NpyHeader ih = nn::parse_npy_header(ib.data(), ib.size(), where);
    const nn::NpyHeader lh = nn::parse_npy_header(lb.data(), lb.size(), lwhere);
    const auto& s = ih.shape;
    const bool gray = s.size() == 3 || (s.size() == 4 && s[3] == 1), rgb = s.size() == 4 && s[3] == 3;
    if (!gray && !rgb)
        throw std::runtime_error(where + ": shape " + ih.describe() + ", expected [n, h, w] or [n, h, w, 3] images");
    if (s[1] == 0 || s[2] == 0) throw std::runtime_error(where + ": images of 0 pixels (" + ih.describe() + ")");
    const bool flat = lh.shape.size() == 1 || (lh.shape.size() == 2 && lh.shape[1] == 1);
    if (!flat || lh.shape[0] != s[0])
        throw std::runtime_error(lwhere + ": shape " + lh.describe() + ", expected [" + std::to_string(s[0]) + "] or [" +
                                 std::to_string(s[0]) + ", 1] (one class label per image; multi-label data sets are "
                                 "not supported)");
    nn::ImageArray im;
    im.count = s[0];
    im.rows = s[1];
    im.cols = s[2];
    im.channels = rgb ? 3 : 1;
    im.pixels = nn::npy_u8(ib.data(), ib.size(), ih, where);
    std::vector<std::int64_t> labels = nn::npy_integers(lb.data(), lb.size(), lh, lwhere);
    check_labels(labels, lwhere);
    return array_split(std::move(im), std::move(labels));
}

RawData read_npz(const std::string& path, bool test_only) {
    const nn::Npz z = nn::Npz::read(path);
    for (const char* k : {"train_images", "train_labels", "test_images", "test_labels"})
        if (!z.has(k))
            throw UsageError(path + " holds no array '" + k + "' (it holds: " + z.keys() + "): a MedMNIST-style .npz "
                             "needs train_images, train_labels, test_images, test_labels (val_* optional)");
    if (z.has("val_images") != z.has("val_labels"))
        throw UsageError(path + ": val_images and val_labels come together (it holds: " + z.keys() + ")");
    RawData r;
    if (!test_only) {
        r.train = npz_split(z, "train");
        if (z.has("val_images")) r.val = npz_split(z, "val");
    }
    r.test = npz_split(z, "test");
    return r;
}

// ---------------------------------------------------------------- CIFAR-10
RawData read_cifar(const std::string& dir, bool test_only) {
    RawData r;
    const std::string meta = path_join(dir, "batches.meta.txt");
    if (path_exists(meta)) {
        const std::vector<std::uint8_t> b = read_file(meta);
        r.names = nn::parse_cifar_names(std::string(b.begin(), b.end()), meta);
    } else {
        r.note = "no batches.meta.txt: classes named by number";
    }
    const std::size_t classes = r.names.empty() ? 10 : r.names.size();
    auto load = [&](const std::vector<std::string>& files) {
        nn::ImageArray all;
        std::vector<std::int64_t> labels;
        for (const std::string& f : files) {
            nn::CifarBatch b = nn::read_cifar_batch(f, classes);
            all.rows = b.images.rows;
            all.cols = b.images.cols;
            all.channels = 3;
            all.count += b.images.count;
            all.pixels.insert(all.pixels.end(), b.images.pixels.begin(), b.images.pixels.end());
            labels.insert(labels.end(), b.labels.begin(), b.labels.end());
        }
        return array_split(std::move(all), std::move(labels));
    };
    std::vector<std::string> train;
    for (int k = 1; k <= 5; ++k)
        if (path_exists(path_join(dir, "data_batch_" + std::to_string(k) + ".bin")))
            train.push_back(path_join(dir, "data_batch_" + std::to_string(k) + ".bin"));
    const std::string test = path_join(dir, "test_batch.bin");
    if ((!test_only && train.empty()) || !path_exists(test))
        throw UsageError("CIFAR-10 directory " + dir + " needs data_batch_1.bin (.. data_batch_5.bin) and "
                         "test_batch.bin (the \"binary version\"; batches.meta.txt for the class names)");
    if (!test_only) r.train = load(train);
    r.test = load({test});
    return r;
}

// ---------------------------------------------------------------- class-per-folder trees
RawSplit folder_split(const nn::FolderSplit& f) {
    RawSplit s;
    s.present = true;
    s.labels.assign(f.labels.begin(), f.labels.end());
    auto files = std::make_shared<const std::vector<std::string>>(f.files);
    s.image = [files](std::size_t i) { return nn::read_image((*files)[i]); };
    return s;
}

// Files in the order of their names (then class): a canonical order that does not depend
// on how classes are named.
void sort_by_file_name(nn::FolderSplit& s) {
    std::vector<std::size_t> order(s.files.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto base = [&](std::size_t i) { return s.files[i].substr(s.files[i].rfind('/') + 1); };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return base(a) < base(b); });
    nn::FolderSplit out;
    for (std::size_t i : order) {
        out.files.push_back(s.files[i]);
        out.labels.push_back(s.labels[i]);
    }
    s = std::move(out);
}

RawData read_folder(const std::string& dir, bool test_only, std::uint64_t seed) {
    nn::ImageFolder f = nn::scan_image_folder(dir);
    if (f.classes.size() > static_cast<std::size_t>(kMaxClassLabel) + 1)
        throw UsageError("image folder " + dir + " has " + std::to_string(f.classes.size()) + " classes, at most " +
                         std::to_string(kMaxClassLabel + 1) + " are supported");
    for (nn::FolderSplit* s : {&f.train, &f.val, &f.test}) sort_by_file_name(*s);
    RawData r;
    r.names = f.classes;
    if (f.skipped) r.note = std::to_string(f.skipped) + " entries that are not images in class folders skipped";
    if (f.has_test) {
        if (!test_only) r.train = folder_split(f.train);
        r.test = folder_split(f.test);
    } else {
        nn::FolderSplit tr, te;
        RawSplit all = folder_split(f.train);
        hold_out_test(all, r.test, seed, [&](std::size_t i, bool test) {
            (test ? te : tr).files.push_back(f.train.files[i]);
            (test ? te : tr).labels.push_back(f.train.labels[i]);
        });
        r.note += std::string(r.note.empty() ? "" : "; ") + "no test/ folder: 20 % of each class held out as the test "
                  "split (chosen with --seed)";
        if (!test_only) r.train = folder_split(tr);
        r.test = folder_split(te);
    }
    if (f.has_val && !test_only) r.val = folder_split(f.val);
    return r;
}

// ---------------------------------------------------------------- precomputed features
struct FeatureArrays {
    std::vector<float> x;
    std::vector<std::int64_t> labels;
    std::size_t d = 0;
};

// Features [n, d] and labels [n] (or [n, 1]) of one split, checked against each other.
FeatureArrays check_features(std::vector<float> x, const std::vector<std::size_t>& xs, std::vector<std::int64_t> labels,
                             const std::vector<std::size_t>& ls, const std::string& xname, const std::string& lname) {
    auto str = [](const std::vector<std::size_t>& s) {
        std::string o = "[";
        for (std::size_t k = 0; k < s.size(); ++k) o += (k ? ", " : "") + std::to_string(s[k]);
        return o + "]";
    };
    if (xs.size() != 2 || xs[1] == 0 || xs[1] > (std::size_t{1} << 20))
        throw std::runtime_error(xname + ": shape " + str(xs) + ", expected features [n, d] with 1 <= d <= 2^20");
    const bool flat = ls.size() == 1 || (ls.size() == 2 && ls[1] == 1);
    if (!flat || ls[0] != xs[0])
        throw std::runtime_error(lname + ": shape " + str(ls) + ", expected [" + std::to_string(xs[0]) +
                                 "] (one integer class label per feature row of " + xname + ")");
    check_labels(labels, lname);
    return {std::move(x), std::move(labels), xs[1]};
}

FeatureArrays npy_features(const std::string& dir, const std::string& split) {
    const std::string xp = path_join(dir, split + "_features.npy"), lp = path_join(dir, split + "_labels.npy");
    for (const std::string& p : {xp, lp})
        if (!path_exists(p))
            throw UsageError("features file " + p + " not found: a features directory holds train_features.npy, "
                             "train_labels.npy, test_features.npy, test_labels.npy (val_* optional)");
    const std::vector<std::uint8_t> xb = read_file(xp), lb = read_file(lp);
    const nn::NpyHeader xh = nn::parse_npy_header(xb.data(), xb.size(), xp);
    const nn::NpyHeader lh = nn::parse_npy_header(lb.data(), lb.size(), lp);
    if (xh.shape.size() != 2)
        throw std::runtime_error(xp + ": shape " + xh.describe() + ", expected features [n, d]");
    return check_features(nn::npy_floats(xb.data(), xb.size(), xh, xp), xh.shape,
                          nn::npy_integers(lb.data(), lb.size(), lh, lp), lh.shape, xp, lp);
}

FeatureArrays safetensors_features(const nn::SafeTensors& st, const std::string& path, const std::string& prefix) {
    const std::string xn = prefix + "features", ln = prefix + "labels";
    const nn::Tensor *x = st.find(xn), *l = st.find(ln);
    if (!x || !l)
        throw UsageError(path + ": no tensors \"" + xn + "\" and \"" + ln + "\": a features safetensors file holds "
                         "\"features\" [n, d] and \"labels\" [n], or train_/test_ (and val_) prefixed pairs");
    std::vector<std::int64_t> labels(l->data.size());
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const float v = l->data[i];
        if (!(std::fabs(v) <= 1e9f) || v != std::floor(v))
            throw std::runtime_error(path + " (" + ln + "): element " + std::to_string(i) + " is " + std::to_string(v) +
                                     ", expected an integer class label");
        labels[i] = static_cast<std::int64_t>(v);
    }
    for (float v : x->data)
        if (!std::isfinite(v)) throw std::runtime_error(path + " (" + xn + "): a feature is not a finite number");
    return check_features(x->data, x->shape, std::move(labels), l->shape, path + " (" + xn + ")", path + " (" + ln + ")");
}

RawSplit feature_split(FeatureArrays a, std::size_t& d, const std::string& where) {
    if (d && a.d != d)
        throw std::runtime_error(where + ": features of width " + std::to_string(a.d) + ", the training features have " +
                                 std::to_string(d) + ": every split must come from the same model");
    d = a.d;
    RawSplit s;
    s.present = true;
    s.features = std::move(a.x);
    s.labels = std::move(a.labels);
    return s;
}

RawData read_features(const std::string& path, bool test_only, std::uint64_t seed) {
    RawData r;
    if (is_directory(path)) {
        if (!test_only) r.train = feature_split(npy_features(path, "train"), r.d, path);
        if (!test_only && path_exists(path_join(path, "val_features.npy")))
            r.val = feature_split(npy_features(path, "val"), r.d, path);
        r.test = feature_split(npy_features(path, "test"), r.d, path);
        return r;
    }
    const nn::SafeTensors st = nn::read_safetensors(path);
    if (st.find("train_features") || st.find("test_features")) {
        if (!test_only) r.train = feature_split(safetensors_features(st, path, "train_"), r.d, path);
        if (!test_only && st.find("val_features")) r.val = feature_split(safetensors_features(st, path, "val_"), r.d, path);
        r.test = feature_split(safetensors_features(st, path, "test_"), r.d, path);
        return r;
    }
    RawSplit all = feature_split(safetensors_features(st, path, ""), r.d, path);
    RawSplit tr;
    tr.present = true;
    hold_out_test(all, r.test, seed, [&](std::size_t i, bool test) {
        RawSplit& to = test ? r.test : tr;
        to.labels.push_back(all.labels[i]);
        to.features.insert(to.features.end(), all.features.begin() + static_cast<long>(i * r.d),
                           all.features.begin() + static_cast<long>((i + 1) * r.d));
    });
    r.note = "one features/labels pair: 20 % of each class held out as the test split (chosen with --seed)";
    if (!test_only) r.train = std::move(tr);
    return r;
}

}  // namespace

DataFormat detect_format(const std::string& path) {
    if (is_directory(path)) {
        if (exists_gz(path_join(path, "train-images-idx3-ubyte")) || exists_gz(path_join(path, "t10k-images-idx3-ubyte")))
            return DataFormat::Idx;
        if (path_exists(path_join(path, "data_batch_1.bin")) || path_exists(path_join(path, "test_batch.bin")))
            return DataFormat::Cifar10;
        if (path_exists(path_join(path, "train_features.npy")) || path_exists(path_join(path, "test_features.npy")))
            return DataFormat::Features;
        if (is_directory(path_join(path, "train"))) return DataFormat::Folder;
        throw UsageError("cannot tell the format of the data directory " + path + ": expected IDX files "
                         "({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]), CIFAR-10 batches (data_batch_1.bin, "
                         "test_batch.bin), features (train_features.npy, ...) or a class-per-folder tree "
                         "(train/CLASS/*.png); or force one with --format");
    }
    if (!path_exists(path))
        throw UsageError("data directory " + path + " not found: on Debian `apt-get install dataset-fashion-mnist`, or "
                         "pass --data with a data set (a directory, a .npz or a features .safetensors file)");
    if (ends_with(path, ".npz")) return DataFormat::Npz;
    if (ends_with(path, ".safetensors")) return DataFormat::Features;
    throw UsageError("cannot tell the format of " + path + ": a data file is a MedMNIST-style .npz or a features "
                     ".safetensors file (name it so, or force one with --format npz|features)");
}

RawData read_raw(const std::string& path, DataFormat f, bool test_only, std::uint64_t seed) {
    const bool dir = is_directory(path);
    if ((f == DataFormat::Npz && dir) || (f != DataFormat::Npz && f != DataFormat::Features && !dir))
        throw UsageError("--format " + std::string(format_name(f)) + " expects " +
                         (f == DataFormat::Npz ? "a .npz file" : "a directory") + ", " + path + " is " +
                         (dir ? "a directory" : path_exists(path) ? "a file" : "not there"));
    RawData r;
    switch (f) {
        case DataFormat::Idx: r = read_idx(path, test_only); break;
        case DataFormat::Npz: r = read_npz(path, test_only); break;
        case DataFormat::Cifar10: r = read_cifar(path, test_only); break;
        case DataFormat::Folder: r = read_folder(path, test_only, seed); break;
        case DataFormat::Features: r = read_features(path, test_only, seed); break;
    }
    r.format = f;
    return r;
}

std::size_t feature_width(const std::string& path) {
    if (is_directory(path)) {
        const std::string xp = path_join(path, path_exists(path_join(path, "train_features.npy")) ? "train_features.npy"
                                                                                                 : "test_features.npy");
        if (!path_exists(xp)) throw UsageError("features file " + xp + " not found");
        const std::vector<std::uint8_t> b = read_file(xp);
        const nn::NpyHeader h = nn::parse_npy_header(b.data(), b.size(), xp);
        if (h.shape.size() != 2 || h.shape[1] == 0)
            throw std::runtime_error(xp + ": shape " + h.describe() + ", expected features [n, d]");
        return h.shape[1];
    }
    const nn::SafeTensors st = nn::read_safetensors(path);
    for (const char* n : {"train_features", "features", "test_features"})
        if (const nn::Tensor* t = st.find(n); t && t->shape.size() == 2) return t->shape[1];
    throw UsageError(path + ": no \"features\" [n, d] tensor (or train_features / test_features)");
}

}  // namespace bt::app
