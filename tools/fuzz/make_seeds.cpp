// make_seeds DIR: writes the seed corpora of the fuzz targets, DIR/ckks_load/ and
// DIR/nn_load/: one valid file per loader, prefixed with its selector byte (and for the
// CKKS loaders a second copy with the checksum-repair bit set), so that the fuzzers start
// from inputs that reach the payload parsers. Deterministic (fixed, INSECURE test seeds).
#include "bt/app/files.hpp"
#include "bt/app/job.hpp"
#include "bt/ckks/bootstrap.hpp"
#include "bt/ckks/encryptor.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/nn/vit.hpp"
#include "bt/os.hpp"

#include <cstdio>
#include <string>
#include <vector>

using namespace bt;
using namespace bt::ckks;
using Bytes = std::vector<std::uint8_t>;

namespace {

void seed(const std::string& dir, const std::string& name, std::uint8_t selector, const Bytes& file) {
    Bytes b = {selector};
    b.insert(b.end(), file.begin(), file.end());
    write_file_atomic(path_join(dir, name), b);
}

// A gzip member of stored blocks (no compression needed for a seed).
Bytes gzip_stored(const Bytes& data) {
    Bytes g = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    const std::size_t n = data.size();  // < 65536 here: one block
    g.insert(g.end(), {1, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                       static_cast<std::uint8_t>(~n), static_cast<std::uint8_t>(~n >> 8)});
    g.insert(g.end(), data.begin(), data.end());
    const std::uint32_t crc = nn::crc32(data.data(), data.size());
    for (int k = 0; k < 4; ++k) g.push_back(static_cast<std::uint8_t>(crc >> (8 * k)));
    for (int k = 0; k < 4; ++k) g.push_back(static_cast<std::uint8_t>(n >> (8 * k)));
    return g;
}

void ckks_seeds(const std::string& dir) {
    const ParamsPtr P = preset("N10_test");
    const ParamsPtr E = encapsulation_params(*P, 32);
    Seed s{};
    s[0] = 7;
    KeyGenerator kg(P, s);
    const SecretKey sk = kg.secret_key();
    const Encoder enc(P);
    Encryptor e(P, sk, s);
    const Ciphertext ct = e.encrypt(enc.encode(std::vector<double>(P->max_slots(), 0.5), P->max_level()));
    app::Job job;
    job.id = 0x0123456789abcdefull;
    job.preset = "N10_test";
    job.model = "m.safetensors";
    job.labels = {5, 6, 7};
    job.class_names = {"a", "b", "c"};
    job.d = 8;
    job.batch = 16;
    job.epochs = 2;
    job.lr = 1;
    job.L = 3;
    app::ClientState st;
    st.norm.mean.assign(8, 0.25);
    st.norm.inv_std.assign(8, 2.0);
    st.val_labels = {0, 1, 2};
    st.test_labels = {2, 1};
    CiphertextBundle data = st.bundle(job);
    data.add(ct);
    const SecureVector<std::int8_t> eph = kg.sparse_ternary_coeffs(32);
    const EncapsulationKeys ek = make_encapsulation_keys(kg, sk, E, eph);
    const std::vector<std::pair<std::uint8_t, Bytes>> files = {
        {0, serialize(*P)},
        {1, serialize(*P, sk)},
        {2, serialize(*P, kg.public_key(sk))},
        {3, serialize(*P, kg.relin_key(sk))},
        {4, serialize(*P, kg.galois_keys(sk, kg.galois_elements_for_steps({1})))},
        {5, serialize(*P, ct)},
        {6, serialize(*P, enc.encode(std::vector<double>(4, 1.0), 1))},
        {7, serialize(*P, *E, ek)},
        {8, serialize(*P, job.bundle())},
        {9, serialize(*P, data)},
    };
    for (const auto& [sel, file] : files) {
        seed(dir, "seed-" + std::to_string(sel), sel, file);
        seed(dir, "seed-" + std::to_string(sel) + "-repair", static_cast<std::uint8_t>(sel | 0x80), file);
    }
}

void nn_seeds(const std::string& dir) {
    Bytes labels = {0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 2, 3};
    Bytes images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    for (int i = 0; i < 8; ++i) images.push_back(static_cast<std::uint8_t>(i * 30));
    seed(dir, "gzip", 0, gzip_stored(labels));
    seed(dir, "idx-images", 1, images);
    seed(dir, "idx-images-gz", 1, gzip_stored(images));
    seed(dir, "idx-labels", 2, labels);
    nn::ViTConfig c;
    c.image_size = 8;
    c.patch_size = 4;
    c.width = 8;
    c.depth = 1;
    c.heads = 2;
    c.mlp_hidden = 8;
    c.num_classes = 2;
    const nn::ViT m(c);
    const std::string tmp = path_join(dir, "model.tmp.safetensors");
    nn::save_vit(m, tmp);
    seed(dir, "safetensors", 3, read_file(tmp));
    std::remove(tmp.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const std::string root = argv[1];
    make_dirs(path_join(root, "ckks_load"));
    make_dirs(path_join(root, "nn_load"));
    ckks_seeds(path_join(root, "ckks_load"));
    nn_seeds(path_join(root, "nn_load"));
    std::printf("make_seeds: corpora in %s/ckks_load and %s/nn_load\n", root.c_str(), root.c_str());
    return 0;
}
