// Bring your own data (src/app/data_formats.cpp, src/app/data.cpp): a small labelled set
// cut from Fashion-MNIST is written in every format; open_dataset, feature extraction and
// the exact plaintext trainer must give from each exactly what they give from IDX (the same
// pixels give the same features, labels, head and accuracy). Precomputed features of
// width 192 and 768 go through the same flow (768 trains end to end on the small ring).
// Malformed files of every format are refused with a message naming the file.
#include "doctest/doctest.h"

#include "app_test_util.hpp"
#include "bt/app/client.hpp"
#include "bt/app/roles.hpp"
#include "bt/app/data.hpp"
#include "bt/app/run.hpp"
#include "bt/nn/cifar.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/nn/npy.hpp"
#include "bt/nn/pnm.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/nn/zip.hpp"
#include "bt/os.hpp"
#include "bt/train/training.hpp"

#include <cmath>
#include <random>
#include <sstream>

using namespace bt::app;
using bt::nn::Image;
using bt::nn::ImageArray;
using bt::nn::NpyType;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kTrain = 400, kTest = 200;

// ---------------------------------------------------------------- writers
void put(const std::string& path, const Bytes& b) {
    bt::make_dirs(bt::dir_name(path));
    bt::write_file_atomic(path, b);
}

Bytes idx_bytes(const ImageArray* im, const std::vector<std::uint8_t>& labels) {
    Bytes b = {0, 0, 8, static_cast<std::uint8_t>(im ? 3 : 1)};
    auto be32 = [&](std::size_t v) {
        for (int k = 3; k >= 0; --k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
    };
    be32(labels.size());
    if (im) {
        be32(im->rows);
        be32(im->cols);
        b.insert(b.end(), im->pixels.begin(), im->pixels.end());
    } else {
        b.insert(b.end(), labels.begin(), labels.end());
    }
    return b;
}

// A PNG (filter 0 on every row, zlib stored blocks): valid, uncompressed.
Bytes png_bytes(const Image& im) {
    Bytes raw;
    for (std::size_t y = 0; y < im.rows; ++y) {
        raw.push_back(0);
        const auto* row = im.pixels.data() + y * im.cols * im.channels;
        raw.insert(raw.end(), row, row + im.cols * im.channels);
    }
    Bytes z = {0x78, 0x01};
    for (std::size_t at = 0; at < raw.size(); at += 65535) {
        const std::size_t n = std::min<std::size_t>(65535, raw.size() - at);
        z.push_back(at + n == raw.size() ? 1 : 0);
        for (std::size_t v : {n, n ^ 0xFFFF}) {
            z.push_back(static_cast<std::uint8_t>(v));
            z.push_back(static_cast<std::uint8_t>(v >> 8));
        }
        z.insert(z.end(), raw.begin() + static_cast<long>(at), raw.begin() + static_cast<long>(at + n));
    }
    std::uint32_t a = 1, s = 0;
    for (std::uint8_t v : raw) {
        a = (a + v) % 65521u;
        s = (s + a) % 65521u;
    }
    for (std::uint32_t v : {s >> 8, s, a >> 8, a}) z.push_back(static_cast<std::uint8_t>(v));
    Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    auto be32 = [](Bytes& b, std::size_t v) {
        for (int k = 3; k >= 0; --k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
    };
    auto chunk = [&](const char* type, const Bytes& data) {
        be32(out, data.size());
        Bytes c(type, type + 4);
        c.insert(c.end(), data.begin(), data.end());
        out.insert(out.end(), c.begin(), c.end());
        be32(out, bt::nn::crc32(c.data(), c.size()));
    };
    Bytes ihdr;
    be32(ihdr, im.cols);
    be32(ihdr, im.rows);
    ihdr.insert(ihdr.end(), {8, static_cast<std::uint8_t>(im.channels == 3 ? 2 : 0), 0, 0, 0});
    chunk("IHDR", ihdr);
    chunk("IDAT", z);
    chunk("IEND", {});
    return out;
}

Image image_of(const ImageArray& a, std::size_t i) {
    Image im;
    im.rows = a.rows;
    im.cols = a.cols;
    im.channels = a.channels;
    im.pixels.assign(a.image(i), a.image(i) + a.image_bytes());
    return im;
}

// ---------------------------------------------------------------- the small set
struct Small {
    ImageArray train, test;  // 28 x 28 gray
    std::vector<std::uint8_t> train_labels, test_labels;
};

const Small& small_set() {
    static const Small s = [] {
        Small r;
        const ImageArray tr = bt::nn::read_idx_images(bt::nn::fashion_mnist_path("train", true));
        const ImageArray te = bt::nn::read_idx_images(bt::nn::fashion_mnist_path("t10k", true));
        const auto trl = bt::nn::read_idx_labels(bt::nn::fashion_mnist_path("train", false)).labels;
        const auto tel = bt::nn::read_idx_labels(bt::nn::fashion_mnist_path("t10k", false)).labels;
        auto cut = [](const ImageArray& a, std::size_t n) {
            ImageArray o = a;
            o.count = n;
            o.pixels.resize(n * a.image_bytes());
            return o;
        };
        r.train = cut(tr, kTrain);
        r.test = cut(te, kTest);
        r.train_labels.assign(trl.begin(), trl.begin() + kTrain);
        r.test_labels.assign(tel.begin(), tel.begin() + kTest);
        return r;
    }();
    return s;
}

// The same images as 32 x 32 RGB (padded, colours mixed from the gray value).
ImageArray to_rgb32(const ImageArray& a) {
    ImageArray o;
    o.count = a.count;
    o.rows = o.cols = 32;
    o.channels = 3;
    o.pixels.assign(a.count * 32 * 32 * 3, 0);
    for (std::size_t i = 0; i < a.count; ++i)
        for (std::size_t y = 0; y < 28; ++y)
            for (std::size_t x = 0; x < 28; ++x) {
                const std::uint8_t v = a.image(i)[y * 28 + x];
                std::uint8_t* p = o.pixels.data() + ((i * 32 + y + 2) * 32 + x + 2) * 3;
                p[0] = v;
                p[1] = static_cast<std::uint8_t>(255 - v);
                p[2] = static_cast<std::uint8_t>(v / 2);
            }
    return o;
}

Bytes npy_images(const ImageArray& a) {
    std::vector<std::size_t> shape = {a.count, a.rows, a.cols};
    if (a.channels == 3) shape.push_back(3);
    return bt::nn::npy_encode(NpyType::U8, shape, a.pixels.data());
}

Bytes npy_labels(const std::vector<std::uint8_t>& l) {
    return bt::nn::npy_encode(NpyType::U8, {l.size(), 1}, l.data());
}

void write_folder(const std::string& dir, const std::string& split, const ImageArray& a,
                  const std::vector<std::uint8_t>& labels, bool png) {
    for (std::size_t i = 0; i < a.count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "%05zu.%s", i, png ? "png" : (a.channels == 3 ? "ppm" : "pgm"));
        const Image im = image_of(a, i);
        put(dir + "/" + split + "/" + std::to_string(labels[i]) + "/" + name, png ? png_bytes(im) : bt::nn::encode_pnm(im));
    }
}

RunConfig data_config(const std::string& path) {
    RunConfig c;
    c.data_dir = path;
    c.classes = {5, 6, 7, 8, 9};
    c.train_size = 0;
    c.val_size = 32;
    return c;
}

struct Result {
    Dataset ds;
    ClientData cd;
    double accuracy = 0;
};

Result run_plain(const RunConfig& cfg, const bt::nn::ViT& model) {
    Result r{open_dataset(cfg), {}, 0};
    std::ostringstream log;
    r.cd = extract_client_data(r.ds, model, cfg.gain, static_cast<int>(r.ds.classes.size()), log);
    double spread = 0;
    const bt::train::Head h =
        bt::train::exact_training(r.cd.train, bt::train::make_batches(r.cd.train.rows, 64), 3, 1.0, spread);
    r.accuracy = bt::train::accuracy(h, r.cd.test);
    return r;
}

void check_same(const Result& a, const Result& b) {
    CHECK(a.cd.d == b.cd.d);
    CHECK(a.cd.train.x == b.cd.train.x);
    CHECK(a.cd.train.label == b.cd.train.label);
    CHECK(a.cd.val.x == b.cd.val.x);
    CHECK(a.cd.val.label == b.cd.val.label);
    CHECK(a.cd.test.x == b.cd.test.x);
    CHECK(a.cd.test.label == b.cd.test.label);
    CHECK(a.accuracy == b.accuracy);
}

#define NEED_DATA()                                                                                    \
    if (!bt_test::have_data()) {                                                                        \
        MESSAGE("skipped: Fashion-MNIST or the shipped model not found (run from the repository root)"); \
        return;                                                                                         \
    }

}  // namespace

TEST_SUITE("app") {

TEST_CASE("data formats: IDX, .npz, PNG and PGM folders and precomputed features give the same features, labels, "
          "head and accuracy") {
    NEED_DATA();
    const Small& s = small_set();
    const bt::nn::ViT model = load_model(bt_test::kModel);
    bt_test::TempDir t;
    const std::string d = t.str();
    put(d + "/idx/train-images-idx3-ubyte", idx_bytes(&s.train, s.train_labels));
    put(d + "/idx/train-labels-idx1-ubyte", idx_bytes(nullptr, s.train_labels));
    put(d + "/idx/t10k-images-idx3-ubyte", idx_bytes(&s.test, s.test_labels));
    put(d + "/idx/t10k-labels-idx1-ubyte", idx_bytes(nullptr, s.test_labels));
    put(d + "/small.npz", bt::nn::zip_store({{"train_images.npy", npy_images(s.train)},
                                             {"train_labels.npy", npy_labels(s.train_labels)},
                                             {"test_images.npy", npy_images(s.test)},
                                             {"test_labels.npy", npy_labels(s.test_labels)}}));
    write_folder(d + "/png", "train", s.train, s.train_labels, true);
    write_folder(d + "/png", "test", s.test, s.test_labels, true);
    write_folder(d + "/pgm", "train", s.train, s.train_labels, false);
    write_folder(d + "/pgm", "test", s.test, s.test_labels, false);
    // Features of every image of the set, as a client's own model would give them.
    for (const char* split : {"train", "test"}) {
        const ImageArray& im = std::string(split) == "train" ? s.train : s.test;
        const auto& lb = std::string(split) == "train" ? s.train_labels : s.test_labels;
        const std::vector<float> f = bt::nn::extract_features(model, im);
        const std::vector<std::int64_t> l(lb.begin(), lb.end());
        put(d + "/features/" + split + "_features.npy", bt::nn::npy_encode(NpyType::F32, {im.count, 120}, f.data()));
        put(d + "/features/" + split + "_labels.npy", bt::nn::npy_encode(NpyType::I64, {im.count}, l.data()));
    }
    const Result ref = run_plain(data_config(d + "/idx"), model);
    CHECK(ref.ds.format == DataFormat::Idx);
    CHECK(ref.cd.train.rows == ref.ds.per_class_train[0] + ref.ds.per_class_train[1] + ref.ds.per_class_train[2] +
                                   ref.ds.per_class_train[3] + ref.ds.per_class_train[4] - 32);
    CHECK(ref.accuracy > 0.6);  // chance: 0.2
    for (const char* fmt : {"small.npz", "png", "pgm", "features"}) {
        INFO(fmt);
        const Result r = run_plain(data_config(d + "/" + fmt), model);
        check_same(ref, r);
    }
    const Result f = run_plain(data_config(d + "/features"), model);
    CHECK(f.ds.format == DataFormat::Features);
    CHECK(f.ds.d == 120);
    // Folder classes are named after their folders; with --format forced the same data reads the same.
    RunConfig forced = data_config(d + "/png");
    forced.format = "folder";
    CHECK(open_dataset(forced).class_names == std::vector<std::string>{"5", "6", "7", "8", "9"});
    forced.format = "npz";
    CHECK_THROWS_WITH_AS(open_dataset(forced), doctest::Contains("expects a .npz file"), UsageError);
}

TEST_CASE("data formats: CIFAR-10 batches, an RGB .npz and RGB PNG/PPM folders agree; RGB becomes luminance") {
    NEED_DATA();
    const Small& s = small_set();
    const bt::nn::ViT model = load_model(bt_test::kModel);
    const ImageArray tr = to_rgb32(s.train), te = to_rgb32(s.test);
    bt_test::TempDir t;
    const std::string d = t.str();
    const std::size_t half = kTrain / 2;  // two training batches
    ImageArray a = tr, b = tr;
    a.count = half;
    a.pixels.resize(half * tr.image_bytes());
    b.count = kTrain - half;
    b.pixels.assign(tr.pixels.begin() + static_cast<long>(half * tr.image_bytes()), tr.pixels.end());
    put(d + "/cifar/data_batch_1.bin", bt::nn::encode_cifar_batch(a, {s.train_labels.begin(), s.train_labels.begin() + half}));
    put(d + "/cifar/data_batch_2.bin", bt::nn::encode_cifar_batch(b, {s.train_labels.begin() + half, s.train_labels.end()}));
    put(d + "/cifar/test_batch.bin", bt::nn::encode_cifar_batch(te, s.test_labels));
    const std::string names = "top\ntrouser\npullover\ndress\ncoat\nsandal\nshirt\nsneaker\nbag\nboot\n";
    put(d + "/cifar/batches.meta.txt", Bytes(names.begin(), names.end()));
    put(d + "/rgb.npz", bt::nn::zip_store({{"train_images.npy", npy_images(tr)},
                                           {"train_labels.npy", npy_labels(s.train_labels)},
                                           {"test_images.npy", npy_images(te)},
                                           {"test_labels.npy", npy_labels(s.test_labels)}}));
    write_folder(d + "/png", "train", tr, s.train_labels, true);
    write_folder(d + "/png", "test", te, s.test_labels, true);
    write_folder(d + "/ppm", "train", tr, s.train_labels, false);
    write_folder(d + "/ppm", "test", te, s.test_labels, false);
    const Result ref = run_plain(data_config(d + "/cifar"), model);
    CHECK(ref.ds.format == DataFormat::Cifar10);
    CHECK(ref.ds.class_names == std::vector<std::string>{"sandal", "shirt", "sneaker", "bag", "boot"});
    CHECK(ref.accuracy > 0.5);
    for (const char* fmt : {"rgb.npz", "png", "ppm"}) {
        INFO(fmt);
        check_same(ref, run_plain(data_config(d + "/" + fmt), model));
    }
    // Without --classes: every class of the data set, named from batches.meta.txt.
    RunConfig all = data_config(d + "/cifar");
    all.classes = default_classes(all);
    CHECK(all.classes.empty());
    const Dataset ds = open_dataset(all);
    CHECK(ds.classes.size() == 10);
    CHECK(with_dataset_classes(all, ds).class_names[0] == "top");
    CHECK(default_classes(data_config(bt_test::kData)) == std::vector<int>{5, 6, 7, 8, 9});
}

TEST_CASE("data formats: validation splits of the format are used; a folder without test/ holds out 20 % per class") {
    NEED_DATA();
    const Small& s = small_set();
    bt_test::TempDir t;
    const std::string d = t.str();
    ImageArray val = s.test;
    val.count = 50;
    val.pixels.resize(50 * val.image_bytes());
    const std::vector<std::uint8_t> vl(s.test_labels.begin(), s.test_labels.begin() + 50);
    put(d + "/v.npz", bt::nn::zip_store({{"train_images.npy", npy_images(s.train)},
                                         {"train_labels.npy", npy_labels(s.train_labels)},
                                         {"val_images.npy", npy_images(val)},
                                         {"val_labels.npy", npy_labels(vl)},
                                         {"test_images.npy", npy_images(s.test)},
                                         {"test_labels.npy", npy_labels(s.test_labels)}}));
    RunConfig c = data_config(d + "/v.npz");
    c.val_size = 1000;  // more than the split holds: all of it
    const Dataset ds = open_dataset(c);
    std::size_t in_classes = 0;
    for (std::uint8_t l : vl) in_classes += l >= 5;
    CHECK(ds.val.size() == in_classes);
    CHECK(ds.note.find("all used") != std::string::npos);
    std::size_t pool = 0;
    for (std::size_t n : ds.per_class_train) pool += n;
    CHECK(ds.train.size() == pool);  // no training image went to validation
    write_folder(d + "/f", "train", s.train, s.train_labels, false);
    RunConfig f = data_config(d + "/f");
    f.val_size = 16;
    const Dataset fs = open_dataset(f);
    CHECK(fs.note.find("held out") != std::string::npos);
    for (std::size_t k = 0; k < 5; ++k) CHECK(fs.per_class_test[k] == (fs.per_class_test[k] + fs.per_class_train[k] + 4) / 5);
    CHECK(fs.train.size() + fs.val.size() + fs.test.size() == pool);
    f.seed = 2;  // another seed, another held-out split
    const Dataset other = open_dataset(f);
    REQUIRE(other.test.size() == fs.test.size());
    bool differ = false;
    for (std::size_t i = 0; i < fs.test.size(); ++i) differ = differ || other.test.images[i].pixels != fs.test.images[i].pixels;
    CHECK(differ);
}

}  // TEST_SUITE

namespace {

// Features of `classes` classes in width d: class means apart, noise around them.
// (At N = 2^12, d = 768 leaves blocks of 2 rows: 2 classes fit, 4 would not.)
void write_synthetic_features(const std::string& dir, std::size_t d, std::size_t classes, std::size_t n_train,
                              std::size_t n_test, NpyType type) {
    std::mt19937_64 rng(d);
    std::normal_distribution<double> noise(0.0, 1.0);
    for (const char* split : {"train", "test"}) {
        const std::size_t n = std::string(split) == "train" ? n_train : n_test;
        std::vector<double> x(n * d);
        std::vector<std::int32_t> l(n);
        for (std::size_t i = 0; i < n; ++i) {
            l[i] = static_cast<std::int32_t>(i % classes);
            for (std::size_t j = 0; j < d; ++j)
                x[i * d + j] = noise(rng) + (j % classes == static_cast<std::size_t>(l[i]) ? 0.6 : 0.0);
        }
        std::vector<float> xf(x.begin(), x.end());
        put(dir + "/" + split + "_features.npy",
            type == NpyType::F64 ? bt::nn::npy_encode(type, {n, d}, x.data()) : bt::nn::npy_encode(type, {n, d}, xf.data()));
        put(dir + "/" + split + "_labels.npy", bt::nn::npy_encode(NpyType::I32, {n}, l.data()));
    }
}

RunConfig small_run(const std::string& data, const std::string& out) {
    RunConfig cfg;
    cfg.params = bt_test::train_test_literal("data_formats_N12");
    cfg.allow_insecure = true;
    cfg.sk_bootstrap = true;
    cfg.data_dir = data;
    cfg.classes = {};  // every class of the features
    cfg.train_size = 0;
    cfg.val_size = 32;
    cfg.batch = 16;
    cfg.epochs = 1;
    cfg.lr = 1.0;
    cfg.out_dir = out;
    return cfg;
}

}  // namespace

TEST_SUITE("app") {

TEST_CASE("data formats: features of width 192 and 768 go through the same flow; the plan says what d changes") {
    bt_test::TempDir t;
    write_synthetic_features(t.str() + "/f192", 192, 2, 160, 64, NpyType::F64);
    write_synthetic_features(t.str() + "/f768", 768, 2, 160, 64, NpyType::F32);
    std::string plans[2];
    for (int k = 0; k < 2; ++k) {
        RunConfig cfg = small_run(t.str() + (k ? "/f768" : "/f192"), t.str() + "/out");
        cfg.plan_only = true;
        cfg.model = "/nonexistent.safetensors";  // never read: precomputed features need no transformer
        std::ostringstream log;
        const RunResult r = run_one_process(cfg, log);
        plans[k] = log.str();
        CHECK(r.report.classes == 2);
        CHECK(plans[k].find("no model: " + std::string(k ? "768" : "192") + "-d precomputed features") != std::string::npos);
        CHECK(plans[k].find(std::string("d ") + (k ? "768" : "192") + " (+ bias") != std::string::npos);
        CHECK(plans[k].find("format features") != std::string::npos);
    }
    CHECK(plans[0].find("rotation keys for training") != std::string::npos);
}

TEST_CASE("data formats: a features file of d = 768 trains end to end on the small ring (stand-in bootstrapping)") {
    bt_test::TempDir t;
    write_synthetic_features(t.str() + "/f", 768, 2, 160, 64, NpyType::F32);
    RunConfig cfg = small_run(t.str() + "/f", t.str() + "/out");
    cfg.class_names = {"left", "right"};
    std::ostringstream log;
    const RunResult r = run_one_process(cfg, log);
    INFO(log.str());
    CHECK(r.report.acc_encrypted > 0.75);  // chance: 0.5
    CHECK(std::fabs(r.report.acc_unflooded - r.report.acc_twin) <= 0.02);
    CHECK(r.report.class_names == std::vector<std::string>{"left", "right"});
    const std::string js = bt_test::slurp(t.str() + "/out/report.json");
    CHECK(js.find("\"features\"") != std::string::npos);  // config.format
    CHECK(js.find("\"right\"") != std::string::npos);
    CHECK(bt_test::slurp(t.str() + "/out/report.svg").find("right") != std::string::npos);
    CHECK(log.str().find("(right)") != std::string::npos);
    // The released head re-scores on the same features, with no model.
    std::ostringstream elog;
    const Evaluation e = role_evaluate_head(t.str() + "/out/head.safetensors", "", "", elog);
    CHECK(e.accuracy == r.report.acc_encrypted);
}

TEST_CASE("data formats: malformed files of every format are refused, naming the file") {
    NEED_DATA();
    const Small& s = small_set();
    bt_test::TempDir t;
    const std::string d = t.str();
    auto refused = [&](const std::string& path, const std::string& says, const std::string& format = "") {
        RunConfig c = data_config(path);
        c.format = format;
        if (path.find("/png") != std::string::npos) {  // folder classes are 0, 1 (folders 5, 6), one image each
            c.classes = {};
            c.val_size = 0;
        }
        std::string e;
        try {
            open_dataset(c);
        } catch (const std::exception& ex) {
            e = ex.what();
        }
        INFO(path, " -> ", e);
        CHECK(e.find(says) != std::string::npos);
    };
    const Bytes ti = npy_images(s.train), tl = npy_labels(s.train_labels), xi = npy_images(s.test),
                xl = npy_labels(s.test_labels);
    auto npz = [&](const std::string& name, std::vector<std::pair<std::string, Bytes>> m) {
        put(d + "/" + name, bt::nn::zip_store(m));
        return d + "/" + name;
    };
    refused(npz("a.npz", {{"train_images.npy", ti}, {"test_images.npy", xi}, {"test_labels.npy", xl}}),
            "holds no array 'train_labels'");
    const std::vector<float> fimg(kTrain * 28 * 28, 0.5f);
    refused(npz("b.npz", {{"train_images.npy", bt::nn::npy_encode(NpyType::F32, {kTrain, 28, 28}, fimg.data())},
                          {"train_labels.npy", tl}, {"test_images.npy", xi}, {"test_labels.npy", xl}}),
            "expected uint8");
    const std::vector<std::uint8_t> multi(kTrain * 14, 0);
    refused(npz("c.npz", {{"train_images.npy", ti}, {"train_labels.npy", bt::nn::npy_encode(NpyType::U8, {kTrain, 14}, multi.data())},
                          {"test_images.npy", xi}, {"test_labels.npy", xl}}),
            "multi-label");
    const std::vector<std::int64_t> big(kTrain, 300);
    refused(npz("d.npz", {{"train_images.npy", ti}, {"train_labels.npy", bt::nn::npy_encode(NpyType::I64, {kTrain}, big.data())},
                          {"test_images.npy", xi}, {"test_labels.npy", xl}}),
            "label 0 is 300, outside the classes");
    Bytes cut = bt::nn::zip_store({{"train_images.npy", ti}});
    cut.resize(cut.size() / 2);
    put(d + "/e.npz", cut);
    refused(d + "/e.npz", "e.npz");
    put(d + "/cifar/data_batch_1.bin", Bytes(3073 * 2 - 5, 0));
    put(d + "/cifar/test_batch.bin", Bytes(3073, 0));
    refused(d + "/cifar", "data_batch_1.bin: 6141 bytes is not a whole number");
    put(d + "/cifar/data_batch_1.bin", Bytes(3073, 12));
    refused(d + "/cifar", "record 0 has label 12");
    auto golden = [](const char* name) {
        const std::string b = bt_test::slurp(bt_test::data_path(std::string("nn/golden/") + name));
        return Bytes(b.begin(), b.end());
    };
    put(d + "/png/train/5/a.png", golden("png_refused_interlaced.png"));
    put(d + "/png/test/5/b.png", golden("png_gray8_f0.png"));
    put(d + "/png/test/6/c.png", golden("png_rgb8.png"));
    put(d + "/png/train/6/d.png", golden("png_gray4.png"));
    refused(d + "/png", "a.png: interlaced");
    put(d + "/png/train/5/a.png", Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
    refused(d + "/png", "a.png: truncated");
    const std::vector<std::int32_t> fi(8, 1);
    put(d + "/feat/train_features.npy", bt::nn::npy_encode(NpyType::I32, {4, 2}, fi.data()));
    put(d + "/feat/train_labels.npy", bt::nn::npy_encode(NpyType::I32, {4}, fi.data()));
    put(d + "/feat/test_features.npy", bt::nn::npy_encode(NpyType::I32, {4, 2}, fi.data()));
    put(d + "/feat/test_labels.npy", bt::nn::npy_encode(NpyType::I32, {4}, fi.data()));
    refused(d + "/feat", "train_features.npy: dtype int32 [4, 2], expected float32 or float64");
    const std::vector<float> ff(8, 1.0f);
    put(d + "/feat/train_features.npy", bt::nn::npy_encode(NpyType::F32, {4, 2}, ff.data()));
    put(d + "/feat/test_features.npy", bt::nn::npy_encode(NpyType::F32, {2, 4}, ff.data()));
    put(d + "/feat/test_labels.npy", bt::nn::npy_encode(NpyType::I32, {2}, fi.data()));
    refused(d + "/feat", "every split must come from the same model");
    put(d + "/feat/test_features.npy", bt::nn::npy_encode(NpyType::F32, {4, 2}, ff.data()));
    put(d + "/feat/test_labels.npy", bt::nn::npy_encode(NpyType::I32, {4}, fi.data()));
    put(d + "/feat/train_labels.npy", bt::nn::npy_encode(NpyType::I32, {3}, fi.data()));
    refused(d + "/feat", "train_labels.npy: shape [3], expected [4]");
    const std::vector<float> half = {0.5f, 1, 1, 1};
    bt::nn::write_safetensors(d + "/f.safetensors", {{"features", {4, 2}, ff.data()}, {"labels", {4}, half.data()}}, {});
    refused(d + "/f.safetensors", "element 0 is 0.500000, expected an integer class label");
    put(d + "/idx/train-images-idx3-ubyte", Bytes{0, 0, 8, 3, 0, 0, 0, 2});
    refused(d + "/idx", "train-labels-idx1-ubyte[.gz] not found");
    refused(d + "/unknown.bin", "not found");
    put(d + "/unknown.bin", Bytes{1});
    refused(d + "/unknown.bin", "cannot tell the format");
    refused(d + "/idx", "'nope' is not a data format", "nope");
}

}  // TEST_SUITE
