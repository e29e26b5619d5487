// Tests for the float matmul kernels (src/nn/matmul*.cpp) against the reference, and for
// feature extraction, preprocessing and weight-file handling (src/nn/vit_io.cpp).
#include "doctest/doctest.h"

#include "bt/cpu.hpp"
#include "bt/nn/matmul.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/nn/vit.hpp"
#include "bt/threadpool.hpp"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace bt::nn;
using bt::SimdPath;

namespace {

template <class Fn>
std::string error_of(Fn fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

ViTConfig small_config() {
    ViTConfig c;
    c.image_size = 28;
    c.channels = 1;
    c.patch_size = 7;
    c.width = 24;
    c.depth = 2;
    c.heads = 3;
    c.mlp_hidden = 48;
    c.num_classes = 5;
    return c;
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("matmul: every SIMD path agrees with the reference within 1e-5 · Σ|a·b|") {
    // Tolerance per element: |C − C_ref| <= 1e-5 · Σ_k |A_ik B_kj| + 1e-30 (FMA and a
    // different summation order; see bt/nn/matmul.hpp).
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
    const SimdPath paths[] = {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512, SimdPath::AVX512IFMA};
    const std::size_t shapes[][3] = {{1, 1, 1},   {7, 5, 3},     {6, 32, 128}, {13, 33, 129}, {50, 50, 32},
                                     {37, 17, 300}, {64, 96, 120}, {5, 200, 1},  {3, 0, 4},     {4, 4, 0}};
    for (SimdPath p : paths) {
        if (!sgemm_path_supported(p)) {
            MESSAGE("matmul: path " << std::string(bt::simd_path_name(p)) << " not available on this CPU/build, skipped");
            continue;
        }
        double worst = 0.0;
        for (const auto& s : shapes) {
            const std::size_t M = s[0], N = s[1], K = s[2];
            const std::size_t lda = K + 3, ldb = N + 1, ldc = N + 2;  // leading dimensions larger than the rows
            std::vector<float> A(M * lda + 1), B(K * ldb + 1), C0(M * ldc + 1), C1;
            for (float& x : A) x = ud(rng);
            for (float& x : B) x = ud(rng);
            for (float& x : C0) x = ud(rng);
            for (bool acc : {false, true}) {
                std::vector<float> ref = C0;
                C1 = C0;
                sgemm_ref(M, N, K, A.data(), lda, B.data(), ldb, ref.data(), ldc, acc);
                sgemm_path(p, M, N, K, A.data(), lda, B.data(), ldb, C1.data(), ldc, acc);
                for (std::size_t i = 0; i < M; ++i)
                    for (std::size_t j = 0; j < ldc; ++j) {
                        const std::size_t at = i * ldc + j;
                        if (j >= N) {  // padding between rows is never written
                            REQUIRE(C1[at] == C0[at]);
                            continue;
                        }
                        double mag = acc ? std::fabs(C0[at]) : 0.0;
                        for (std::size_t k = 0; k < K; ++k) mag += std::fabs(A[i * lda + k] * B[k * ldb + j]);
                        const double err = std::fabs(static_cast<double>(C1[at]) - ref[at]);
                        worst = std::max(worst, err / (mag + 1e-30));
                        REQUIRE_MESSAGE(err <= 1e-5 * mag + 1e-30, std::string(bt::simd_path_name(p)) << " M=" << M << " N=" << N
                                                                   << " K=" << K << " (" << i << "," << j << ")");
                    }
                REQUIRE(C1.back() == C0.back());
            }
        }
        MESSAGE("matmul path " << std::string(bt::simd_path_name(p)) << ": worst error " << worst << " of Σ|a·b|");
    }
}

TEST_CASE("features: independent of batching and of the thread count; match one-image forward") {
    ViT m(small_config());
    init_vit(m, 3);
    const std::size_t n = 70, in = 28 * 28;
    std::vector<float> img(n * in);
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (float& x : img) x = nd(rng);
    std::vector<float> f1(n * 24), f2(n * 24);
    bt::ThreadPool::set_global_threads(1);
    extract_features(m, img.data(), n, f1.data());
    bt::ThreadPool::set_global_threads(2);
    extract_features(m, img.data(), n, f2.data());
    bt::ThreadPool::set_global_threads(bt::ThreadPool::default_threads());
    CHECK(f1 == f2);  // chunks are fixed, so results are bit-identical
    ViTActs a;
    a.allocate(m.config, 1);
    for (std::size_t i : {0u, 33u, 69u}) {
        vit_forward(m, a, img.data() + i * in, 1);
        for (std::size_t j = 0; j < 24; ++j) CHECK(std::fabs(a.lnf[j] - f1[i * 24 + j]) <= 1e-5f);
    }
    // Features are LayerNorm outputs: mean ≈ bias mean (0), variance ≈ 1 with unit weights.
    double mean = 0.0;
    for (std::size_t j = 0; j < 24; ++j) mean += f1[j];
    CHECK(std::fabs(mean / 24.0) < 1e-4);
}

TEST_CASE("preprocess: bilinear resize matches torch; grayscale replicated and normalized") {
    const SafeTensors g = read_safetensors("tests/nn/golden/loaders.safetensors");
    const Tensor& in = *g.find("resize.in");
    for (const char* k : {"resize.up", "resize.down"}) {
        const Tensor& want = *g.find(k);
        std::vector<float> out(want.numel());
        resize_bilinear(in.data.data(), 5, 7, out.data(), want.shape[0], want.shape[1]);
        for (std::size_t i = 0; i < out.size(); ++i) CHECK(std::fabs(out[i] - want.data[i]) <= 1e-6f);
    }
    ViTConfig c = small_config();
    c.channels = 3;
    c.image_size = 56;
    c.patch_size = 14;
    c.norm_mean = {0.485f, 0.456f, 0.406f};
    c.norm_std = {0.229f, 0.224f, 0.225f};
    std::vector<std::uint8_t> img(28 * 28, 255);
    std::vector<float> out(3 * 56 * 56);
    preprocess_u8(c, img.data(), 28, 28, 1, out.data());
    for (std::size_t ch = 0; ch < 3; ++ch)
        CHECK(std::fabs(out[ch * 56 * 56 + 100] - (1.0f - c.norm_mean[ch]) / c.norm_std[ch]) < 1e-5f);
    CHECK(error_of([&] { preprocess_u8(c, img.data(), 28, 28, 2, out.data()); }).find("2 channels") != std::string::npos);
}

TEST_CASE("weights: our format round-trips; bad configs and checkpoints are refused") {
    ViT m(small_config());
    init_vit(m, 4);
    const std::string path = "/tmp/bt_nn_test_model.safetensors";
    save_vit(m, path, {{"note", "test"}});
    const SafeTensors st = read_safetensors(path);
    CHECK(st.metadata.at("format") == "bt-vit");
    CHECK(st.metadata.at("note") == "test");
    CHECK(st.find("blocks.1.attn.qkv.weight")->shape == std::vector<std::size_t>{72, 24});
    CHECK(st.find("patch_embed.proj.weight")->shape == std::vector<std::size_t>{24, 1, 7, 7});
    const ViT back = load_vit(path);
    CHECK(back.memory == m.memory);
    // A missing tensor and a mis-shaped one.
    std::vector<TensorView> views;
    for (const Tensor& t : st.tensors)
        if (t.name != "blocks.1.mlp.fc2.bias") views.push_back({t.name, t.shape, t.data.data()});
    write_safetensors(path, views, st.metadata);
    CHECK(error_of([&] { load_vit(path); }).find("missing tensor \"blocks.1.mlp.fc2.bias\"") != std::string::npos);
    std::vector<float> wrong(25, 0.0f);
    views.push_back({"blocks.1.mlp.fc2.bias", {25}, wrong.data()});
    write_safetensors(path, views, st.metadata);
    CHECK(error_of([&] { load_vit(path); }).find("has shape [25]") != std::string::npos);
    write_safetensors(path, {{"foo", {1}, wrong.data()}}, {});
    CHECK(error_of([&] { load_vit(path); }).find("not a ViT checkpoint") != std::string::npos);
    // Metadata that claims a huge model over the small tensors: refused before the model
    // (width 8192, depth 64: about 50 GB of parameters) is allocated.
    std::map<std::string, std::string> huge = st.metadata;
    huge["width"] = "8192";
    huge["depth"] = "64";
    huge["heads"] = "64";
    huge["mlp_hidden"] = "32768";
    std::vector<TensorView> all;
    for (const Tensor& t : st.tensors) all.push_back({t.name, t.shape, t.data.data()});
    write_safetensors(path, all, huge);
    CHECK(error_of([&] { load_vit(path); }).find("has shape") != std::string::npos);
    std::remove(path.c_str());
    ViTConfig c = small_config();
    c.width = 25;
    CHECK(error_of([&] { ViT x(c); }).find("width 25 must be a positive multiple of heads 3") != std::string::npos);
    c = small_config();
    c.patch_size = 5;
    CHECK(error_of([&] { ViT x(c); }).find("image_size 28 must be a positive multiple of patch_size 5") !=
          std::string::npos);
}

}  // TEST_SUITE
