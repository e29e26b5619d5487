// bt_train's commands: one option table per command (bt/app/args.hpp), then one call
// into the application layer.
#include "commands.hpp"

#include "bt/app/data.hpp"
#include "bt/app/roles.hpp"
#include "bt/app/run.hpp"
#include "bt/version.hpp"

#include <cstdlib>
#include <iostream>

namespace btcli {

using namespace bt::app;

namespace {

const char* kAbout =
    "Fine-tunes the classification head of a frozen vision transformer on CKKS-encrypted features\n"
    "(BlindTuner / HETAL). With no options: the shipped model, Debian's Fashion-MNIST, classes 5-9 as the\n"
    "private task, 1,024 training images, two epochs. In one process it runs the client (features, keys,\n"
    "encryption, decryption, evaluation) and the server (encrypted training on ciphertexts and evaluation\n"
    "keys only), and writes OUT/head.safetensors, OUT/report.json and OUT/report.svg.";

const char* kCommands =
    "commands (client and server as separate roles; `bt_train help COMMAND` for each):\n"
    "  keygen     client: secret key (kept) and the server bundle of evaluation keys\n"
    "  encrypt    client: frozen features, encrypted for the server\n"
    "  train      server: encrypted training; writes the encrypted head\n"
    "  validate   client: answers the server's per-epoch validation with continue/stop\n"
    "  decrypt    client: decrypts the head to safetensors (noise-flooded by default)\n"
    "  evaluate   client: test accuracy of a released head or of encrypted predictions\n"
    "  infer      server: encrypted inference on the encrypted test set\n"
    "exit status: 0 done, 2 refused before any work (bad option, file or plan), 1 failed while working.";

std::size_t parse_memory(const std::string& v) {
    std::size_t i = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    const std::size_t n = parse_count("--max-memory", v.substr(0, i), 1, std::size_t{1} << 40);
    const std::string unit = v.substr(i);
    std::size_t mult = 1;
    if (unit == "K" || unit == "KiB") mult = std::size_t{1} << 10;
    else if (unit == "M" || unit == "MiB") mult = std::size_t{1} << 20;
    else if (unit == "G" || unit == "GiB") mult = std::size_t{1} << 30;
    else if (!unit.empty()) throw UsageError("--max-memory expects a size like 16G, 8000M or 12GiB, got '" + v + "'");
    if (n > (std::size_t{1} << 50) / mult) throw UsageError("--max-memory " + v + " is implausibly large");
    return n * mult;
}

bool parse_preference(const std::string& v) {
    if (v == "speed") return true;
    if (v == "memory") return false;
    throw UsageError("--prefer expects 'speed' or 'memory', got '" + v + "'");
}

// Options shared by the one-process run and the client commands.
void data_options(Options& o, RunConfig& c) {
    o.text("--data", "PATH", "the data set: an IDX, CIFAR-10, class-per-folder or features directory, a MedMNIST "
           ".npz or a features .safetensors file (README: Bring your own data)", &c.data_dir);
    o.custom("--format", "NAME", "the format of --data: idx, npz, cifar10, folder or features (default: detected)",
             [&c](const std::string& v) { c.format = format_name(parse_format(v)); });
    o.custom("--classes", "LIST", "comma-separated dataset labels of the private task",
             [&c](const std::string& v) { c.classes = parse_class_list(v); }, "5,6,7,8,9 for IDX, else every class");
    o.custom("--class-names", "LIST", "comma-separated names of the classes, in the same order (for the report)",
             [&c](const std::string& v) { c.class_names = parse_name_list(v); });
    o.count("--train", "N", "training images (0 = every image of the classes but the validation ones)",
            &c.train_size, 0, kMaxImages);
    o.count("--val", "N", "validation images for early stopping", &c.val_size, 0, kMaxImages);
    o.count("--test", "N", "test images (0 = the whole test split of the classes)", &c.test_size, 0, kMaxImages);
    o.count64("--seed", "N", "data order seed (keys and encryption never use it)", &c.seed);
    o.real("--gain", "X", "feature standardisation gain", &c.gain, 0, 1000, true);
}

void job_options(Options& o, RunConfig& c) {
    o.text("--model", "FILE", "frozen transformer, safetensors (default: the shipped model; BT_MODEL overrides)",
           &c.model);
    o.count("--batch", "N", "rows per group (one encrypted softmax; a step holds --groups of them)", &c.batch, 1,
            kMaxBatch);
    o.count("--groups", "G", "groups per step: global batch G x --batch; a server under mpirun splits a step's "
            "groups over its ranks (the head does not depend on the ranks)", &c.groups, 1, kMaxGroups);
    o.count("--epochs", "N", "epochs", &c.epochs, 1, kMaxEpochs);
    o.real("--lr", "X", "learning rate", &c.lr, 0, 1e6, true);
    o.real("--logit-bound", "V", "bound on |logit - row mean| the softmax polynomials cover", &c.softmax.V, 0, 256, true);
    o.text("--preset", "NAME", "CKKS preset (default " + default_training_preset() + ")", &c.preset);
    o.flag("--allow-insecure", "accept INSECURE test parameters (tests only)", &c.allow_insecure);
    o.custom("--insecure-seed", "HEX", "INSECURE: derive every key and encryption from this 64-digit seed (tests)",
             [&c](const std::string& v) { c.insecure_seed = parse_seed_hex("--insecure-seed", v); });
}

void resource_options(Options& o, RunConfig& c) {
    o.custom("--max-memory", "SIZE", "memory limit the forecast must fit (e.g. 16G; default: what is available)",
             [&c](const std::string& v) { c.max_memory = parse_memory(v); });
    o.flag("--force", "run even if the forecast peak memory exceeds the limit", &c.force);
    o.custom("--prefer", "WHAT", "memory (default: seeded keys, compact bootstrapping transforms, Horner DFT keys) or "
             "speed (the fastest configuration whose forecast fits the memory limit)",
             [&c](const std::string& v) { c.prefer_speed = parse_preference(v); });
    o.threads();
}

}  // namespace

int run_main(int argc, char** argv) {
    RunConfig c;
    Options o("bt_train", "bt_train [options]            the whole flow in one process\n"
                          "       bt_train COMMAND [options]    one role of the client/server flow (below)",
              kAbout);
    data_options(o, c);
    job_options(o, c);
    o.count("--patience", "N", "early-stopping patience in epochs (0 = off)", &c.patience, 0, kMaxEpochs);
    o.text("--out", "DIR", "output directory: head.safetensors, report.json, report.svg, checkpoints/", &c.out_dir);
    o.flag("--plan", "print the configuration, plan and resource forecast, then exit", &c.plan_only);
    o.flag("--resume", "continue an interrupted run from the newest checkpoint in --out", &c.resume);
    o.count("--checkpoint-every", "N", "steps between checkpoints (0 = epoch ends only)", &c.checkpoint_every, 0,
            1000000000);
    bool no_flooding = false;
    o.flag("--no-flooding", "release the head without noise flooding (never share it then)", &no_flooding);
    o.real("--flood-sigma", "X", "flooding noise per slot (default 2^-6 = 0.015625)", &c.flood_sigma, 0, 1000, true);
    o.flag("--infer", "also run encrypted inference on the encrypted test set", &c.infer);
    o.flag("--stream-data", "keep the encrypted training set in a file and read it a batch at a time", &c.stream_data);
    o.flag("--expanded-keys", "hold every key expanded (default: the keys used a few times per step seeded, their "
           "uniform halves regenerated at use: 2.8 GiB less for the default task)", &c.expanded_keys);
    bool no_range = false;
    o.flag("--no-range-check", "skip the client's secret-key probe of the softmax input ranges", &no_range);
    o.flag("--insecure-sk-bootstrap", "INSECURE: bootstrapping by decrypt/re-encrypt (tests and quick trials)",
           &c.sk_bootstrap);
    resource_options(o, c);
    o.epilog(kCommands);
    if (!o.parse(argc, argv, 1)) return 0;
    if (!o.given("--classes")) c.classes = default_classes(c);
    c.flooding = !no_flooding;
    c.check_ranges = !no_range;
    if (no_flooding && o.given("--flood-sigma")) throw UsageError("--no-flooding and --flood-sigma contradict each other");
    if (c.sk_bootstrap)
        std::cerr << "WARNING: --insecure-sk-bootstrap: bootstrapping decrypts and re-encrypts with the secret key; "
                     "this is a test mode, not private training\n";
    std::cout << bt::version_line("bt_train") << ": BlindTuner encrypted fine-tuning\n";
    run_one_process(c, std::cout);
    return 0;
}

namespace {

int cmd_keygen(int argc, char** argv) {
    RunConfig c;
    RoleDirs d;
    Options o("bt_train keygen", "bt_train keygen [options]",
              "client: plans the job, makes the secret key (kept in --client, mode 0600) and exactly the\n"
              "evaluation keys the plan needs (the server bundle in --server).");
    o.text("--client", "DIR", "the client's directory (never leaves the client)", &d.client);
    o.text("--server", "DIR", "the server bundle's directory", &d.server);
    o.custom("--classes", "LIST", "comma-separated dataset labels of the private task",
             [&c](const std::string& v) { c.classes = parse_class_list(v); }, "5,6,7,8,9");
    o.custom("--class-names", "LIST", "comma-separated names of the classes",
             [&c](const std::string& v) { c.class_names = parse_name_list(v); });
    o.text("--data", "PATH", "the data set, read for its classes, their names and (precomputed features) the width",
           &c.data_dir);
    o.custom("--format", "NAME", "the format of --data (default: detected)",
             [&c](const std::string& v) { c.format = format_name(parse_format(v)); });
    job_options(o, c);
    resource_options(o, c);
    if (!o.parse(argc, argv, 2)) return 0;
    if (!o.given("--data") && !o.given("--format")) c.data_dir.clear();
    else if (!o.given("--classes")) c.classes = default_classes(c);
    role_keygen(c, d, std::cout);
    return 0;
}

int cmd_encrypt(int argc, char** argv) {
    RunConfig c;
    RoleDirs d;
    Options o("bt_train encrypt", "bt_train encrypt [options]",
              "client: frozen features of the data with the job's model, standardised, encrypted:\n"
              "SERVER/train.bin, val.bin, test.bin; CLIENT/client.bin keeps the split and the labels.");
    o.text("--client", "DIR", "the client's directory (from keygen)", &d.client);
    o.text("--server", "DIR", "the server bundle's directory", &d.server);
    data_options(o, c);
    o.flag("--allow-insecure", "accept INSECURE test parameters (tests only)", &c.allow_insecure);
    o.custom("--insecure-seed", "HEX", "INSECURE: derive every encryption from this 64-digit seed (tests)",
             [&c](const std::string& v) { c.insecure_seed = parse_seed_hex("--insecure-seed", v); });
    o.threads();
    if (!o.parse(argc, argv, 2)) return 0;
    role_encrypt(c, d, std::cout);
    return 0;
}

int cmd_train(int argc, char** argv) {
    TrainRoleOptions t;
    Options o("bt_train train", "bt_train train [options]",
              "server: encrypted training on the server bundle; writes OUT/head.bin and OUT/checkpoints/.\n"
              "It never reads a secret key and refuses one anywhere in its inputs.");
    o.text("--server", "DIR", "the server bundle's directory", &t.server_dir);
    o.text("--out", "DIR", "where head.bin and checkpoints/ go (default: the server directory)", &t.out_dir);
    o.text("--exchange", "DIR", "early stopping: validation requests and the client's answers go through DIR",
           &t.exchange_dir);
    o.count("--checkpoint-every", "N", "steps between checkpoints (0 = epoch ends only)", &t.checkpoint_every, 0,
            1000000000);
    o.flag("--resume", "continue from the newest complete checkpoint", &t.resume);
    o.flag("--stream-data", "read train.bin a batch at a time even when it would fit in memory", &t.stream_data);
    o.custom("--prefer", "WHAT", "memory (default: compact bootstrapping transforms) or speed (transforms "
             "precomputed if they fit in --max-memory)", [&t](const std::string& v) { t.prefer_speed = parse_preference(v); });
    o.custom("--max-memory", "SIZE", "memory the precomputed transforms of --prefer speed must fit in (default: what "
             "is available)", [&t](const std::string& v) { t.max_memory = parse_memory(v); });
    bool no_cache = false;
    std::string cache;
    o.text("--key-cache", "FILE", "the expanded key cache: built once from the key files, then mapped read-only "
           "(default SERVER/eval-keys.cache)", &cache);
    o.flag("--no-key-cache", "load and expand the key files into memory instead", &no_cache);
    o.count("--epochs", "N", "epochs (default: the job's)", &t.epochs, 1, kMaxEpochs);
    o.count("--max-steps", "N", "pause after N steps of this run with a checkpoint (0 = run to the end); --resume "
            "continues, with any number of ranks", &t.max_steps, 0, 1000000000);
    o.real("--exchange-timeout", "S", "seconds to wait for a validation answer", &t.exchange_timeout, 0, 1e7, true);
    o.flag("--allow-insecure", "accept INSECURE test parameters (tests only)", &t.allow_insecure);
    o.threads();
    const char* why = "the server must never hold the secret key or the client's files";
    o.forbid("--secret-key", why).forbid("--client", why).forbid("--sk", why);
    if (!o.parse(argc, argv, 2)) return 0;
    if (no_cache && !cache.empty()) throw UsageError("--key-cache and --no-key-cache exclude each other");
    t.key_cache = no_cache ? "" : cache.empty() ? "-" : cache;
    role_train(t, std::cout);
    return 0;
}

int cmd_validate(int argc, char** argv) {
    ValidateOptions v;
    Options o("bt_train validate", "bt_train validate --exchange DIR [options]",
              "client: answers the server's per-epoch validation requests with continue or stop (early stopping\n"
              "on the decrypted validation loss); the one word is all that goes back.");
    o.text("--client", "DIR", "the client's directory", &v.client_dir);
    o.text("--exchange", "DIR", "the directory given to the server's train --exchange", &v.exchange_dir);
    o.count("--patience", "N", "epochs without improvement before stopping (0 = never)", &v.patience, 0, kMaxEpochs);
    o.real("--timeout", "S", "seconds to wait for each request", &v.timeout, 0, 1e7, true);
    o.flag("--allow-insecure", "accept INSECURE test parameters (tests only)", &v.allow_insecure);
    o.threads();
    if (!o.parse(argc, argv, 2)) return 0;
    if (v.exchange_dir.empty()) throw UsageError("validate needs --exchange DIR (the directory given to the server's train)");
    role_validate(v, std::cout);
    return 0;
}

int cmd_decrypt(int argc, char** argv) {
    DecryptOptions d;
    bool no_flooding = false;
    Options o("bt_train decrypt", "bt_train decrypt [options]",
              "client: decrypts the encrypted head to safetensors, noise-flooded by default (sigma 2^-6 per slot;\n"
              "see the README on releasing the head).");
    o.text("--client", "DIR", "the client's directory", &d.client_dir);
    o.text("--head", "FILE", "the encrypted head from the server", &d.head_file);
    o.text("--out", "FILE", "the released head", &d.out_file);
    o.flag("--no-flooding", "no noise flooding (never share this head then)", &no_flooding);
    o.real("--flood-sigma", "X", "flooding noise per slot (default 2^-6)", &d.flood_sigma, 0, 1000, true);
    o.flag("--allow-insecure", "accept INSECURE test parameters (tests only)", &d.allow_insecure);
    o.threads();
    if (!o.parse(argc, argv, 2)) return 0;
    if (no_flooding && o.given("--flood-sigma")) throw UsageError("--no-flooding and --flood-sigma contradict each other");
    d.flooding = !no_flooding;
    role_decrypt(d, std::cout);
    return 0;
}

int cmd_evaluate(int argc, char** argv) {
    std::string client = "bt_client", head, predictions, data, model;
    bool allow_insecure = false;
    Options o("bt_train evaluate", "bt_train evaluate (--head FILE | --predictions FILE) [options]",
              "client: test accuracy and confusion matrix of a released head (head.safetensors from decrypt or\n"
              "the one-process run; its metadata names the model and test split), or of encrypted predictions.");
    o.text("--head", "FILE", "a released head (safetensors)", &head);
    o.text("--predictions", "FILE", "encrypted predictions from infer (decrypted with --client's key)", &predictions);
    o.text("--client", "DIR", "the client's directory (for --predictions)", &client);
    o.text("--data", "DIR", "the dataset (default: the one named in the head)", &data);
    o.text("--model", "FILE", "the frozen transformer (default: the one named in the head)", &model);
    o.flag("--allow-insecure", "accept INSECURE test parameters (tests only)", &allow_insecure);
    o.threads();
    if (!o.parse(argc, argv, 2)) return 0;
    if (head.empty() == predictions.empty())
        throw UsageError("evaluate needs exactly one of --head FILE.safetensors or --predictions FILE");
    if (!head.empty()) role_evaluate_head(head, data, model, std::cout);
    else role_evaluate_predictions(client, predictions, allow_insecure, std::cout);
    return 0;
}

int cmd_infer(int argc, char** argv) {
    std::string server = "bt_server", head, out;
    bool allow_insecure = false;
    Options o("bt_train infer", "bt_train infer [options]",
              "server: encrypted inference, the encrypted head applied to the encrypted test set.");
    o.text("--server", "DIR", "the server bundle's directory", &server);
    o.text("--head", "FILE", "the encrypted head (default SERVER/head.bin)", &head);
    o.text("--out", "FILE", "encrypted predictions (default SERVER/predictions.bin)", &out);
    o.flag("--allow-insecure", "accept INSECURE test parameters (tests only)", &allow_insecure);
    bool no_cache = false;
    std::string cache;
    o.text("--key-cache", "FILE", "the expanded key cache (default SERVER/eval-keys.cache; see train)", &cache);
    o.flag("--no-key-cache", "load and expand the key files into memory instead", &no_cache);
    o.threads();
    const char* why = "the server must never hold the secret key or the client's files";
    o.forbid("--secret-key", why).forbid("--client", why);
    if (!o.parse(argc, argv, 2)) return 0;
    if (no_cache && !cache.empty()) throw UsageError("--key-cache and --no-key-cache exclude each other");
    role_infer(server, head.empty() ? server + "/head.bin" : head, out.empty() ? server + "/predictions.bin" : out,
               allow_insecure, std::cout, no_cache ? "" : cache.empty() ? "-" : cache);
    return 0;
}

struct Command {
    const char* name;
    int (*fn)(int, char**);
};
const Command kTable[] = {{"keygen", cmd_keygen},     {"encrypt", cmd_encrypt}, {"train", cmd_train},
                          {"validate", cmd_validate}, {"decrypt", cmd_decrypt}, {"evaluate", cmd_evaluate},
                          {"infer", cmd_infer}};

}  // namespace

int run_command(const std::string& cmd, int argc, char** argv) {
    for (const Command& c : kTable)
        if (cmd == c.name) return c.fn(argc, argv);
    return -1;
}

int help(const std::string& topic) {
    if (topic.empty() || topic == "roles") {
        char a0[] = "bt_train", h[] = "--help";
        char* args[] = {a0, h};
        if (topic.empty()) return run_main(2, args);
        std::cout << kCommands << "\n";
        return 0;
    }
    char a0[] = "bt_train", h[] = "--help";
    std::string name = topic;
    char* args[] = {a0, &name[0], h};
    const int rc = run_command(topic, 3, args);
    if (rc == -1) throw UsageError("no help on '" + topic + "': the commands are keygen, encrypt, train, validate, "
                                   "decrypt, evaluate, infer");
    return rc;
}

}  // namespace btcli
