// bt_train: BlindTuner's encrypted fine-tuning, the whole pipeline in one process.
#include "bt/threadpool.hpp"
#include "bt/train/pipeline.hpp"
#include "bt/train/roles.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#include <sys/stat.h>

namespace {

constexpr const char* kVersion = "0.3.0";

const char* kHelp = R"(usage: bt_train [options]            the whole pipeline in one process
       bt_train COMMAND [options]    client and server as separate roles (bt_train help roles)

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

const char* kRolesHelp = R"(BlindTuner roles: the client keeps its images and the secret key; the server trains on
ciphertexts. Files go between them; only a continue/stop bit comes back during training.

client:  bt_train keygen   [--client DIR] [--server DIR] [--model F] [--classes L] [--batch N]
                           [--epochs N] [--lr X] [--logit-bound V] [--preset NAME] [--allow-insecure]
           writes DIR/secret.key (client only) and the server bundle: params.bin, job.bin,
           relin.key, galois-train.key, galois-boot.key, encaps.key (exactly the plan's keys)
client:  bt_train encrypt  [--client DIR] [--server DIR] [--data DIR] [--train N] [--val N] [--test N]
                           [--seed N] [--gain X]
           frozen features, encrypted: server/train.bin, val.bin, test.bin
server:  bt_train train    [--server DIR] [--out DIR] [--exchange DIR] [--checkpoint-every N]
                           [--resume] [--epochs N] [--exchange-timeout S]
           writes out/head.bin and out/checkpoints/; never reads a secret key (refuses one)
client:  bt_train validate [--client DIR] --exchange DIR [--patience N]
           answers the server's per-epoch validation requests with continue/stop
client:  bt_train decrypt  [--client DIR] [--head FILE] [--out FILE] [--no-flooding] [--flood-sigma X]
           decrypts the head to safetensors, noise-flooded by default (sigma 2^-6 per slot)
client:  bt_train evaluate [--client DIR] (--head FILE.safetensors | --predictions FILE)
server:  bt_train infer    [--server DIR] [--head FILE] [--out FILE]
           encrypted inference on the encrypted test set
Defaults: --client bt_client, --server bt_server; every command takes --threads N.
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

// ---------------------------------------------------------------- roles
struct Args {
    std::vector<std::pair<std::string, std::string>> kv;  // flag -> value ("" for switches)
    bool has(const std::string& f) const {
        for (const auto& p : kv)
            if (p.first == f) return true;
        return false;
    }
    std::string get(const std::string& f, const std::string& def) const {
        for (const auto& p : kv)
            if (p.first == f) return p.second;
        return def;
    }
};

Args parse_role_args(const std::string& cmd, int argc, char** argv, const std::vector<std::string>& valued,
                     const std::vector<std::string>& switches) {
    Args a;
    for (int i = 2; i < argc; ++i) {
        const std::string f = argv[i];
        if (f == "--help" || f == "-h") {
            std::cout << kRolesHelp;
            std::exit(0);
        }
        if (cmd == "train" && (f == "--secret-key" || f == "--client" || f == "--sk"))
            usage_error("train refuses " + f + ": the server must never hold the secret key or the client's files");
        bool ok = false;
        for (const auto& v : valued)
            if (f == v) {
                if (i + 1 >= argc) usage_error(f + " needs a value");
                a.kv.emplace_back(f, argv[++i]);
                ok = true;
            }
        for (const auto& sw : switches)
            if (f == sw) {
                a.kv.emplace_back(f, "");
                ok = true;
            }
        if (!ok) usage_error(cmd + ": unknown option '" + f + "' (bt_train help roles)");
    }
    if (a.has("--threads")) bt::ThreadPool::set_global_threads(static_cast<unsigned>(parse_size("--threads", a.get("--threads", ""))));
    return a;
}

std::vector<int> parse_classes(const std::string& v) {
    std::vector<int> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const std::size_t c = parse_size("--classes", item);
        if (c > 255) usage_error("--classes: label " + item + " is above 255");
        out.push_back(static_cast<int>(c));
    }
    if (out.size() < 2) usage_error("--classes needs at least two labels, e.g. 5,6,7,8,9");
    return out;
}

int run_role(const std::string& cmd, int argc, char** argv) {
    using namespace bt::train;
    RoleDirs dirs;
    if (cmd == "keygen") {
        const Args a = parse_role_args(cmd, argc, argv,
                                       {"--client", "--server", "--model", "--classes", "--batch", "--epochs", "--lr",
                                        "--logit-bound", "--preset", "--threads"},
                                       {"--allow-insecure"});
        RunConfig cfg;
        dirs.client = a.get("--client", dirs.client);
        dirs.server = a.get("--server", dirs.server);
        cfg.model = a.get("--model", cfg.model);
        if (a.has("--classes")) cfg.classes = parse_classes(a.get("--classes", ""));
        if (a.has("--batch")) cfg.batch = parse_size("--batch", a.get("--batch", ""));
        if (a.has("--epochs")) cfg.epochs = parse_size("--epochs", a.get("--epochs", ""));
        if (a.has("--lr")) cfg.lr = parse_double("--lr", a.get("--lr", ""));
        if (a.has("--logit-bound")) cfg.softmax.V = parse_double("--logit-bound", a.get("--logit-bound", ""));
        cfg.preset = a.get("--preset", "");
        if (cfg.batch == 0 || cfg.epochs == 0 || !(cfg.lr > 0) || !(cfg.softmax.V > 0))
            usage_error("--batch and --epochs must be at least 1, --lr and --logit-bound positive");
        role_keygen(cfg, dirs, a.has("--allow-insecure"), std::cout);
    } else if (cmd == "encrypt") {
        const Args a = parse_role_args(cmd, argc, argv,
                                       {"--client", "--server", "--data", "--train", "--val", "--test", "--seed",
                                        "--gain", "--threads"},
                                       {});
        RunConfig cfg;
        dirs.client = a.get("--client", dirs.client);
        dirs.server = a.get("--server", dirs.server);
        cfg.data_dir = a.get("--data", cfg.data_dir);
        if (a.has("--train")) cfg.train_size = parse_size("--train", a.get("--train", ""));
        if (a.has("--val")) cfg.val_size = parse_size("--val", a.get("--val", ""));
        if (a.has("--test")) cfg.test_size = parse_size("--test", a.get("--test", ""));
        if (a.has("--seed")) cfg.seed = parse_size("--seed", a.get("--seed", ""));
        if (a.has("--gain")) cfg.gain = parse_double("--gain", a.get("--gain", ""));
        if (!(cfg.gain > 0)) usage_error("--gain must be positive");
        role_encrypt(cfg, dirs, std::cout);
    } else if (cmd == "train") {
        const Args a = parse_role_args(cmd, argc, argv,
                                       {"--server", "--out", "--exchange", "--checkpoint-every", "--epochs",
                                        "--exchange-timeout", "--threads"},
                                       {"--resume"});
        TrainOptions o;
        o.server_dir = a.get("--server", o.server_dir);
        o.out_dir = a.get("--out", "");
        o.exchange_dir = a.get("--exchange", "");
        if (a.has("--checkpoint-every")) o.checkpoint_every = parse_size("--checkpoint-every", a.get("--checkpoint-every", ""));
        if (a.has("--epochs")) o.epochs = parse_size("--epochs", a.get("--epochs", ""));
        if (a.has("--exchange-timeout")) o.exchange_timeout = parse_double("--exchange-timeout", a.get("--exchange-timeout", ""));
        o.resume = a.has("--resume");
        role_train(o, std::cout);
    } else if (cmd == "validate") {
        const Args a = parse_role_args(cmd, argc, argv, {"--client", "--exchange", "--patience", "--timeout", "--threads"}, {});
        ValidateOptions o;
        o.client_dir = a.get("--client", o.client_dir);
        o.exchange_dir = a.get("--exchange", "");
        if (o.exchange_dir.empty()) usage_error("validate needs --exchange DIR (the directory given to the server's train)");
        if (a.has("--patience")) o.patience = parse_size("--patience", a.get("--patience", ""));
        if (a.has("--timeout")) o.timeout = parse_double("--timeout", a.get("--timeout", ""));
        role_validate(o, std::cout);
    } else if (cmd == "decrypt") {
        const Args a = parse_role_args(cmd, argc, argv, {"--client", "--head", "--out", "--flood-sigma", "--threads"},
                                       {"--no-flooding"});
        DecryptOptions o;
        o.client_dir = a.get("--client", o.client_dir);
        o.head_file = a.get("--head", o.head_file);
        o.out_file = a.get("--out", o.out_file);
        o.flooding = !a.has("--no-flooding");
        if (a.has("--flood-sigma")) {
            o.flood_sigma = parse_double("--flood-sigma", a.get("--flood-sigma", ""));
            if (!(o.flood_sigma > 0)) usage_error("--flood-sigma must be positive (or use --no-flooding)");
        }
        role_decrypt(o, std::cout);
    } else if (cmd == "evaluate") {
        const Args a = parse_role_args(cmd, argc, argv, {"--client", "--head", "--predictions", "--threads"}, {});
        const std::string client = a.get("--client", dirs.client);
        if (a.has("--head") == a.has("--predictions"))
            usage_error("evaluate needs exactly one of --head FILE.safetensors or --predictions FILE");
        if (a.has("--head")) role_evaluate_head(client, a.get("--head", ""), std::cout);
        else role_evaluate_predictions(client, a.get("--predictions", ""), std::cout);
    } else if (cmd == "infer") {
        const Args a = parse_role_args(cmd, argc, argv, {"--server", "--head", "--out", "--threads"}, {});
        const std::string server = a.get("--server", dirs.server);
        role_infer(server, a.get("--head", server + "/head.bin"), a.get("--out", server + "/predictions.bin"), std::cout);
    } else {
        return -1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they happen, also in a pipe
    if (argc >= 2 && argv[1][0] != '-') {
        const std::string cmd = argv[1];
        if (cmd == "help") {
            std::cout << (argc >= 3 && std::string(argv[2]) == "roles" ? kRolesHelp : kHelp);
            return 0;
        }
        try {
            const int rc = run_role(cmd, argc, argv);
            if (rc == -1)
                usage_error("unknown command '" + cmd +
                            "': one of keygen, encrypt, train, validate, decrypt, evaluate, infer (bt_train help roles)");
            return rc;
        } catch (const std::exception& e) {
            std::cerr << "bt_train " << cmd << ": error: " << e.what() << "\n";
            return 1;
        }
    }
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
            cfg.classes = parse_classes(value());
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
