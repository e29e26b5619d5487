// bt_train: BlindTuner's encrypted fine-tuning, the whole pipeline in one process.
#include "bt/threadpool.hpp"
#include "bt/train/pipeline.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>

namespace {

constexpr const char* kVersion = "0.2.0";

const char* kHelp = R"(usage: bt_train [options]

Fine-tunes the classification head of a frozen vision transformer on CKKS-encrypted
features (BlindTuner / HETAL). With no options: the shipped model, Debian's Fashion-MNIST,
classes 5-9 as the private task, a subset sized to finish in about ten minutes on 2 cores.
In one process it runs the client (features, keys, encryption, decryption, evaluation)
and the server (encrypted training: it only uses ciphertexts and evaluation keys).

options:
  --data DIR          IDX dataset directory ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])
                      (default /usr/share/datasets/fashion-mnist)
  --model FILE        frozen transformer, safetensors (default models/bt-vit-fmnist04.safetensors)
  --classes LIST      comma-separated dataset labels of the private task (default 5,6,7,8,9)
  --train N           training images (default 1024; 0 = all images of the classes)
  --val N             validation images for early stopping (default 256)
  --test N            test images (default 0 = the whole test split of the classes)
  --batch N           rows per step (default 512)
  --epochs N          epochs (default 2)
  --patience N        early-stopping patience in epochs (default 2; 0 = off)
  --lr X              learning rate (default 2.0)
  --gain X            feature standardisation gain (default 0.5)
  --logit-bound V     bound on |logit - row mean| the softmax polynomials cover (default 20)
  --threads N         worker threads (default: BT_THREADS or all cores)
  --seed N            data order seed (default 1; keys and encryption always use OS randomness)
  --preset NAME       CKKS preset (default: the training preset)
  --out DIR           output directory for report.json and report.svg (default bt_out)
  --plan              print the configuration, level plan and per-step counts, then exit
  --no-range-check    skip the client's secret-key check of the softmax input ranges
  --insecure-sk-bootstrap
                      INSECURE: bootstrapping by decrypt/re-encrypt (tests and quick trials only)
  --help, --version
)";

[[noreturn]] void usage_error(const std::string& msg) {
    std::cerr << "bt_train: " << msg << "\n(run bt_train --help for the options)\n";
    std::exit(2);
}

std::size_t parse_size(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || v[0] == '-')
        usage_error(flag + " expects a non-negative integer, got '" + v + "'");
    return static_cast<std::size_t>(x);
}

double parse_double(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end || errno || !(x == x)) usage_error(flag + " expects a number, got '" + v + "'");
    return x;
}

void ensure_dir(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create output directory " + dir + ": " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they happen, also in a pipe
    bt::train::RunConfig cfg;
    unsigned threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::cout << kHelp;
            return 0;
        } else if (a == "--version") {
            std::cout << "bt_train " << kVersion << "\n";
            return 0;
        } else if (a == "--data") cfg.data_dir = value();
        else if (a == "--model") cfg.model = value();
        else if (a == "--classes") {
            cfg.classes.clear();
            std::stringstream ss(value());
            std::string item;
            while (std::getline(ss, item, ',')) {
                const std::size_t c = parse_size("--classes", item);
                if (c > 255) usage_error("--classes: label " + item + " is above 255");
                cfg.classes.push_back(static_cast<int>(c));
            }
            if (cfg.classes.size() < 2) usage_error("--classes needs at least two labels, e.g. 5,6,7,8,9");
        } else if (a == "--train") cfg.train_size = parse_size(a, value());
        else if (a == "--val") cfg.val_size = parse_size(a, value());
        else if (a == "--test") cfg.test_size = parse_size(a, value());
        else if (a == "--batch") cfg.batch = parse_size(a, value());
        else if (a == "--epochs") cfg.epochs = parse_size(a, value());
        else if (a == "--patience") cfg.patience = parse_size(a, value());
        else if (a == "--lr") cfg.lr = parse_double(a, value());
        else if (a == "--gain") cfg.gain = parse_double(a, value());
        else if (a == "--logit-bound") cfg.softmax.V = parse_double(a, value());
        else if (a == "--threads") threads = static_cast<unsigned>(parse_size(a, value()));
        else if (a == "--seed") cfg.seed = parse_size(a, value());
        else if (a == "--preset") cfg.preset = value();
        else if (a == "--out") cfg.out_dir = value();
        else if (a == "--plan") cfg.plan_only = true;
        else if (a == "--no-range-check") cfg.check_ranges = false;
        else if (a == "--insecure-sk-bootstrap") cfg.sk_bootstrap = true;
        else usage_error("unknown option '" + a + "'");
    }
    if (cfg.batch == 0) usage_error("--batch must be at least 1");
    if (cfg.epochs == 0) usage_error("--epochs must be at least 1");
    if (!(cfg.lr > 0)) usage_error("--lr must be positive");
    if (!(cfg.gain > 0)) usage_error("--gain must be positive");
    if (!(cfg.softmax.V > 0)) usage_error("--logit-bound must be positive");
    if (threads > 0) bt::ThreadPool::set_global_threads(threads);
    if (cfg.sk_bootstrap)
        std::cerr << "WARNING: --insecure-sk-bootstrap: bootstrapping decrypts and re-encrypts with the secret key; "
                     "this is a test mode, not private training\n";
    try {
        std::cout << "bt_train " << kVersion << ": BlindTuner encrypted fine-tuning\n";
        const bt::train::RunResult r = bt::train::run_pipeline(cfg, std::cout);
        if (cfg.plan_only) return 0;
        ensure_dir(cfg.out_dir);
        bt::train::write_file_atomic(cfg.out_dir + "/report.json", bt::train::report_json(r.report));
        bt::train::write_file_atomic(cfg.out_dir + "/report.svg", bt::train::report_svg(r.report));
        std::cout << "report: " << cfg.out_dir << "/report.json, " << cfg.out_dir << "/report.svg\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bt_train: error: " << e.what() << "\n";
        return 1;
    }
}
