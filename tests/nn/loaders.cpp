// Tests for the loaders: inflate/gzip (src/nn/inflate.cpp), IDX (src/nn/idx.cpp) and
// safetensors (src/nn/safetensors.cpp). Known answers come from Python's zlib; corrupt and
// truncated inputs are made by hand and must be refused with a message saying why.
#include "doctest/doctest.h"

#include "bt/nn/idx.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/nn/safetensors.hpp"

#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <stdexcept>
#include <string>
#include <vector>

using namespace bt::nn;
using Bytes = std::vector<std::uint8_t>;

namespace {

// zlib.compressobj(level, DEFLATED, -15) of known texts (tools: Python 3 zlib).
const std::uint8_t kStored[] = {0x01, 0x15, 0x00, 0xea, 0xff, 0x73, 0x74, 0x6f, 0x72, 0x65, 0x64, 0x20, 0x62, 0x6c, 0x6f, 0x63, 0x6b, 0x2c, 0x20, 0x6c, 0x65, 0x76, 0x65, 0x6c, 0x20, 0x30};
const std::uint8_t kFixed[] = {0x4b, 0x4c, 0x4a, 0x4e, 0x44, 0x42, 0x0a, 0x69, 0x99, 0x15, 0xa9, 0x29, 0x0a, 0x19, 0xa5, 0x69, 0x69, 0xb9, 0x89, 0x79, 0x00};
const std::uint8_t kDynamic[] = {0xd5, 0xcc, 0x45, 0x12, 0xc2, 0x30, 0x18, 0x40, 0x61, 0xdc, 0xdd, 0x9d, 0x1f, 0xf7, 0xe2, 0x6e, 0x9b, 0x2e, 0xb8, 0x46, 0x5a, 0x92, 0xb6, 0x43, 0x9b, 0x64, 0x2a, 0x0b, 0x6e, 0x0f, 0xc3, 0x2d, 0x58, 0xbf, 0x6f, 0x9e, 0xf8, 0xa6, 0xc8, 0xd0, 0x64, 0x78, 0x38, 0x84, 0x18, 0x88, 0x82, 0xa4, 0x33, 0xf9, 0x65, 0x01, 0xe2, 0x1c, 0x23, 0x13, 0x18, 0x95, 0x31, 0xd8, 0x2a, 0x06, 0x8d, 0x72, 0xc7, 0x06, 0xcd, 0x02, 0x9d, 0x51, 0x05, 0x30, 0x65, 0x8e, 0xa2, 0x02, 0x61, 0xe6, 0x2f, 0xca, 0xec, 0xf9, 0x55, 0x48, 0xd2, 0xb1, 0x05, 0x36, 0x03, 0x8e, 0xde, 0xc0, 0x08, 0x11, 0x40, 0xfc, 0xd3, 0xb7, 0xcb, 0xed, 0xf1, 0xfa, 0xfc, 0x81, 0x60, 0x28, 0x1c, 0x89, 0xc6, 0xe2, 0x89, 0x64, 0x2a, 0x9d, 0xc9, 0xe6, 0xf2, 0x85, 0x62, 0xa9, 0x5c, 0xa9, 0xd6, 0xea, 0x8d, 0x26, 0xb4, 0xda, 0x9d, 0x6e, 0xaf, 0x3f, 0x18, 0x8e, 0xc6, 0x93, 0xe9, 0x4c, 0x98, 0x2f, 0x96, 0xab, 0xf5, 0x66, 0xbb, 0xdb, 0x1f, 0x8e, 0xa7, 0xf3, 0xe5, 0x7a, 0xbb, 0x7f, 0x00};
const std::uint8_t kGzip[] = {0x1f, 0x8b, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0xe0, 0x02, 0x00, 0x39, 0x7c, 0x63, 0x56, 0x0b, 0x00, 0x00, 0x00};

const std::string kDynamicText = [] {
    std::string s;
    for (int i = 0; i < 3; ++i)
        s += "Dynamic Huffman blocks appear once the input is long enough for the code tables to pay off. ";
    for (int i = 0; i < 64; ++i) s += static_cast<char>(i);
    return s;
}();

std::string as_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

// The message of the exception `fn` throws ("" if none).
template <class Fn>
std::string error_of(Fn fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

void put_le32(Bytes& b, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
}
void put_be32(Bytes& b, std::uint32_t v) {
    for (int k = 3; k >= 0; --k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
}

// A gzip member whose data is `prefix` then `zeros` zero bytes, compressed hard: one fixed
// Huffman block of literals for the prefix and a zero, then matches of length 258 at
// distance 1 (13 bits per 258 bytes: a ratio near DEFLATE's limit of about 1032).
Bytes gzip_bomb(const Bytes& prefix, std::size_t zeros) {
    Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    std::uint64_t acc = 0;
    unsigned nacc = 0;
    auto bits = [&](std::uint32_t v, unsigned n) {  // LSB first
        acc |= std::uint64_t{v} << nacc;
        nacc += n;
        while (nacc >= 8) {
            out.push_back(static_cast<std::uint8_t>(acc));
            acc >>= 8;
            nacc -= 8;
        }
    };
    auto code = [&](std::uint32_t c, unsigned n) {  // Huffman codes go MSB first
        for (unsigned i = n; i-- > 0;) bits((c >> i) & 1u, 1);
    };
    auto literal = [&](std::uint8_t b) {
        if (b < 144) code(0x30u + b, 8);
        else code(0x190u + (b - 144u), 9);
    };
    bits(1, 1);  // final block
    bits(1, 2);  // fixed Huffman
    for (std::uint8_t b : prefix) literal(b);
    std::size_t left = zeros;
    if (left) {
        literal(0);
        --left;
    }
    for (; left >= 258; left -= 258) {
        code(0xC5, 8);  // length symbol 285: 258
        code(0, 5);     // distance symbol 0: 1
    }
    for (; left; --left) literal(0);
    code(0, 7);  // end of block
    if (nacc) out.push_back(static_cast<std::uint8_t>(acc));
    Bytes plain = prefix;  // the CRC needs the data: made in pieces to keep memory small
    std::uint32_t crc = crc32(prefix.data(), prefix.size());
    const Bytes chunk(1 << 16, 0);
    for (std::size_t z = zeros; z;) {
        const std::size_t n = std::min<std::size_t>(z, chunk.size());
        crc = crc32(chunk.data(), n, crc);
        z -= n;
    }
    put_le32(out, crc);
    put_le32(out, static_cast<std::uint32_t>(prefix.size() + zeros));
    return out;
}

// A gzip member built by hand from stored DEFLATE blocks of at most `block` bytes.
Bytes gzip_stored(const Bytes& data, std::size_t block = 65535) {
    Bytes g = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    std::size_t at = 0;
    do {
        const std::size_t n = std::min(block, data.size() - at);
        g.push_back(at + n == data.size() ? 1 : 0);  // BFINAL, BTYPE 00; then aligned
        g.push_back(static_cast<std::uint8_t>(n));
        g.push_back(static_cast<std::uint8_t>(n >> 8));
        g.push_back(static_cast<std::uint8_t>(~n));
        g.push_back(static_cast<std::uint8_t>(~n >> 8));
        g.insert(g.end(), data.begin() + static_cast<std::ptrdiff_t>(at), data.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
    } while (at < data.size());
    put_le32(g, crc32(data.data(), data.size()));
    put_le32(g, static_cast<std::uint32_t>(data.size()));
    return g;
}

Bytes idx_images(std::uint32_t n, std::uint32_t r, std::uint32_t c) {
    Bytes b;
    put_be32(b, 0x803);
    put_be32(b, n);
    put_be32(b, r);
    put_be32(b, c);
    for (std::uint32_t i = 0; i < n * r * c; ++i) b.push_back(static_cast<std::uint8_t>(i * 7));
    return b;
}

bool file_exists(const std::string& p) {
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (f) std::fclose(f);
    return f != nullptr;
}

}  // namespace

TEST_SUITE("nn") {

// ------------------------------------------------------------------ inflate
TEST_CASE("inflate: CRC-32 and stored / fixed / dynamic blocks (known answers)") {
    const char* nine = "123456789";
    CHECK(crc32(reinterpret_cast<const std::uint8_t*>(nine), 9) == 0xCBF43926u);
    CHECK(kStored[0] == 0x01);           // BFINAL 1, BTYPE 00
    CHECK(((kFixed[0] >> 1) & 3) == 1);  // BTYPE 01
    CHECK(((kDynamic[0] >> 1) & 3) == 2);  // BTYPE 10
    std::size_t used = 0;
    CHECK(as_string(inflate_raw(kStored, sizeof kStored, &used)) == "stored block, level 0");
    CHECK(used == sizeof kStored);
    CHECK(as_string(inflate_raw(kFixed, sizeof kFixed, &used)) == "abcabcabcabcabc fixed huffman");
    CHECK(used == sizeof kFixed);
    CHECK(as_string(inflate_raw(kDynamic, sizeof kDynamic, &used)) == kDynamicText);
    CHECK(used == sizeof kDynamic);
    CHECK(as_string(gunzip(kGzip, sizeof kGzip)) == "hello gzip\n");  // FNAME header
    // Two members concatenated decode to the concatenation; stored blocks across 3 blocks.
    Bytes two(kGzip, kGzip + sizeof kGzip);
    two.insert(two.end(), kGzip, kGzip + sizeof kGzip);
    CHECK(as_string(gunzip(two.data(), two.size())) == "hello gzip\nhello gzip\n");
    Bytes big(1000);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31 + 5);
    const Bytes g = gzip_stored(big, 400);
    CHECK(gunzip(g.data(), g.size()) == big);
}

TEST_CASE("inflate: truncated and corrupt streams are refused with clear errors") {
    const Bytes good(kGzip, kGzip + sizeof kGzip);
    auto gz = [](Bytes b) { return error_of([&] { gunzip(b.data(), b.size()); }); };
    for (std::size_t cut : {5u, 15u, 25u, 33u, 37u}) {
        CAPTURE(cut);
        const std::string e = gz(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
        CHECK(e.find("truncated") != std::string::npos);
    }
    Bytes bad = good;
    bad[0] = 0x1e;
    CHECK(gz(bad).find("bad magic") != std::string::npos);
    bad = good;
    bad[2] = 7;
    CHECK(gz(bad).find("compression method 7 (expected 8") != std::string::npos);
    bad = good;
    bad[good.size() - 8] ^= 0x40;  // CRC-32
    CHECK(gz(bad).find("CRC-32 mismatch") != std::string::npos);
    bad = good;
    bad[good.size() - 4] ^= 0x01;  // ISIZE
    CHECK(gz(bad).find("ISIZE mismatch") != std::string::npos);
    bad = good;
    bad[25] ^= 0x10;  // a flipped bit inside the compressed data: some check must fire
    CHECK(!gz(bad).empty());
    // Raw DEFLATE: reserved block type, stored LEN/NLEN, distance before the start.
    const std::uint8_t reserved[] = {0x07, 0x00};
    CHECK(error_of([&] { inflate_raw(reserved, 2); }).find("reserved block type 3") != std::string::npos);
    const std::uint8_t badlen[] = {0x01, 0x05, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'};
    CHECK(error_of([&] { inflate_raw(badlen, sizeof badlen); }).find("NLEN") != std::string::npos);
    // Fixed block whose first symbol is a length 3 / distance 1 copy: nothing to copy yet.
    // Bits (LSB first): BFINAL 1, BTYPE 01, symbol 257 = 0000001 (7 bits), distance 00000.
    const std::uint8_t far[] = {0x03, 0x02, 0x00, 0x00};
    CHECK(error_of([&] { inflate_raw(far, sizeof far); }).find("before the start of the output") != std::string::npos);
    // Truncated raw stream.
    CHECK(error_of([&] { inflate_raw(kDynamic, sizeof kDynamic / 2); }).find("truncated") != std::string::npos);
}

// ------------------------------------------------------------------ IDX
TEST_CASE("idx: plain and gzip files parse; bad magic, sizes and truncation are refused") {
    const Bytes plain = idx_images(3, 4, 5);
    const IdxImages a = parse_idx_images(plain, "a");
    CHECK(a.count == 3);
    CHECK(a.rows == 4);
    CHECK(a.cols == 5);
    CHECK(a.image(2)[1] == static_cast<std::uint8_t>(41 * 7));
    const IdxImages z = parse_idx_images(gzip_stored(plain, 17), "z");
    CHECK(z.pixels == a.pixels);
    Bytes lab;
    put_be32(lab, 0x801);
    put_be32(lab, 4);
    for (std::uint8_t v : Bytes{3, 1, 4, 1}) lab.push_back(v);
    CHECK(parse_idx_labels(lab, "l").labels == Bytes{3, 1, 4, 1});
    CHECK(parse_idx_labels(gzip_stored(lab), "l").count() == 4);

    CHECK(error_of([&] { parse_idx_images(lab, "labels.idx"); })
              .find("magic 0x00000801 (an unsigned-byte IDX file with 1 dimensions), expected 0x00000803") !=
          std::string::npos);
    CHECK(error_of([&] { parse_idx_labels(plain, "x"); }).find("expected 0x00000801 for labels") != std::string::npos);
    Bytes cut(plain.begin(), plain.end() - 3);
    CHECK(error_of([&] { parse_idx_images(cut, "cut"); }).find("promises 60 data bytes, file holds 57 (truncated)") !=
          std::string::npos);
    Bytes extra = plain;
    extra.push_back(0);
    CHECK(error_of([&] { parse_idx_images(extra, "x"); }).find("(trailing bytes)") != std::string::npos);
    CHECK(error_of([&] { parse_idx_images(Bytes{0, 0}, "x"); }).find("too short") != std::string::npos);
    Bytes wide = plain;
    wide[2] = 0x0D;  // float data
    CHECK(error_of([&] { parse_idx_images(wide, "x"); }).find("not an unsigned-byte IDX file") != std::string::npos);
    Bytes gz = gzip_stored(plain);
    gz.resize(gz.size() - 6);
    const std::string e = error_of([&] { parse_idx_images(gz, "t.gz"); });
    CHECK(e.find("IDX t.gz: cannot decompress") != std::string::npos);
    CHECK(error_of([] { read_idx_images("/nonexistent/file.gz"); }).find("cannot open /nonexistent/file.gz") !=
          std::string::npos);
}

TEST_CASE("idx and gzip: allocation bombs are refused from the header, before decompressing") {
    // A 1 MiB stream of zeros in about 7 KB: it decompresses as asked, within the caps.
    const Bytes ok = gzip_bomb({}, std::size_t{1} << 20);
    CHECK(ok.size() < 8000);
    CHECK(gunzip(ok.data(), ok.size()).size() == (std::size_t{1} << 20));
    CHECK(gunzip_prefix(ok.data(), ok.size(), 10).size() == 10);
    // Capped by the caller: decoding stops at the cap.
    CHECK(error_of([&] { gunzip(ok.data(), ok.size(), 1000); }).find("more than the 1000 bytes allowed") !=
          std::string::npos);
    // IDX labels whose header promises 2^28 labels in a file far too small to hold them:
    // refused at once from the header.
    Bytes head;
    put_be32(head, 0x00000801);
    put_be32(head, 1u << 28);
    const Bytes small = gzip_bomb(head, 1000);
    CHECK(error_of([&] { parse_idx_labels(small, "big.gz"); }).find("more than") != std::string::npos);
    // A header that promises 1,000 labels over a stream of 50 MiB: decompression stops at 1,008 bytes.
    Bytes head2;
    put_be32(head2, 0x00000801);
    put_be32(head2, 1000);
    const Bytes long_stream = gzip_bomb(head2, std::size_t{50} << 20);
    const std::string e = error_of([&] { parse_idx_labels(long_stream, "long.gz"); });
    CHECK(e.find("long.gz") != std::string::npos);
    CHECK(e.find("more than the 1008 bytes") != std::string::npos);
    // Dimensions whose product overflows: refused, not wrapped.
    Bytes dims;
    put_be32(dims, 0x00000803);
    for (int k = 0; k < 3; ++k) put_be32(dims, 0xFFFFFFFFu);
    CHECK(error_of([&] { parse_idx_images(dims, "dims"); }).find("promise more than") != std::string::npos);
}

TEST_CASE("idx: Debian's Fashion-MNIST (gzip) loads with the expected sizes") {
    const std::string ti = fashion_mnist_path("t10k", true), tl = fashion_mnist_path("t10k", false);
    if (!file_exists(ti) || !file_exists(tl)) {
        MESSAGE("skipped: " << ti << " not found (apt install dataset-fashion-mnist)");
        return;
    }
    const IdxImages im = read_idx_images(ti);
    const IdxLabels lb = read_idx_labels(tl);
    CHECK(im.count == 10000);
    CHECK(im.rows == 28);
    CHECK(im.cols == 28);
    REQUIRE(lb.count() == 10000);
    std::size_t per_class[10] = {};
    for (std::uint8_t y : lb.labels) {
        REQUIRE(y < 10);
        ++per_class[y];
    }
    for (std::size_t k : per_class) CHECK(k == 1000);
    CHECK(lb.labels[0] == 9);  // the first test image is an ankle boot
    CHECK(lb.labels[1] == 2);
}

// ------------------------------------------------------------------ safetensors
TEST_CASE("safetensors: round trip, F16/BF16 read, metadata, atomic write") {
    const float a[6] = {1, -2, 3.5f, 0.25f, -0.0f, 1e-3f};
    const float b[2] = {7, 8};
    const std::string path = "/tmp/bt_nn_test_st.safetensors";
    write_safetensors(path, {{"a", {2, 3}, a}, {"b", {2}, b}}, {{"k", "v \"quoted\""}});
    const SafeTensors st = read_safetensors(path);
    REQUIRE(st.tensors.size() == 2);
    CHECK(st.metadata.at("k") == "v \"quoted\"");
    const Tensor* ta = st.find("a");
    REQUIRE(ta != nullptr);
    CHECK(ta->shape == std::vector<std::size_t>{2, 3});
    CHECK(std::memcmp(ta->data.data(), a, sizeof a) == 0);
    CHECK(!file_exists(path + ".tmp." + std::to_string(static_cast<long>(::getpid()))));
    std::remove(path.c_str());
    // F16 1.0, -2.0, 65504, 2^-24 (subnormal); BF16 1.0, -3.0.
    std::string h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                    "\"g\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
    Bytes f;
    for (int k = 0; k < 8; ++k) f.push_back(static_cast<std::uint8_t>(h.size() >> (8 * k)));
    f.insert(f.end(), h.begin(), h.end());
    for (std::uint8_t v : Bytes{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x80, 0x3f, 0x40, 0xc0}) f.push_back(v);
    const SafeTensors s2 = parse_safetensors(f, "f16");
    CHECK(s2.find("h")->data == std::vector<float>{1.0f, -2.0f, 65504.0f, 0x1p-24f});
    CHECK(s2.find("g")->data == std::vector<float>{1.0f, -3.0f});
    CHECK(s2.find("h")->dtype == DType::F16);
}

TEST_CASE("safetensors: F64 and integer tensors (features and labels files) read as float") {
    std::string h = "{\"f\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                    "\"l\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]},"
                    "\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[24,28]},"
                    "\"s\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[28,30]},"
                    "\"b\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[30,31]},"
                    "\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[31,32]}}";
    Bytes f;
    for (int k = 0; k < 8; ++k) f.push_back(static_cast<std::uint8_t>(h.size() >> (8 * k)));
    f.insert(f.end(), h.begin(), h.end());
    const double third = 1.0 / 3;
    std::uint64_t bits;
    std::memcpy(&bits, &third, 8);
    for (int k = 0; k < 8; ++k) f.push_back(static_cast<std::uint8_t>(bits >> (8 * k)));
    for (std::int64_t v : {std::int64_t{7}, std::int64_t{-2}})
        for (int k = 0; k < 8; ++k) f.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * k)));
    for (std::uint8_t v : Bytes{0xfe, 0xff, 0xff, 0xff, 0x05, 0x80, 0xff, 200}) f.push_back(v);
    const SafeTensors st = parse_safetensors(f, "ints");
    CHECK(st.find("f")->data == std::vector<float>{static_cast<float>(third)});
    CHECK(st.find("l")->data == std::vector<float>{7.0f, -2.0f});
    CHECK(st.find("i")->data == std::vector<float>{-2.0f});
    CHECK(st.find("s")->data == std::vector<float>{-32763.0f});
    CHECK(st.find("b")->data == std::vector<float>{-1.0f});
    CHECK(st.find("u")->data == std::vector<float>{200.0f});
    CHECK(st.find("l")->dtype == DType::I64);
}

TEST_CASE("safetensors: malformed files are refused with clear errors") {
    auto file = [](const std::string& header, std::size_t data_bytes) {
        Bytes f;
        for (int k = 0; k < 8; ++k) f.push_back(static_cast<std::uint8_t>(header.size() >> (8 * k)));
        f.insert(f.end(), header.begin(), header.end());
        f.resize(f.size() + data_bytes, 0);
        return f;
    };
    auto err = [&](const std::string& header, std::size_t data_bytes) {
        return error_of([&] { parse_safetensors(file(header, data_bytes), "m.st"); });
    };
    const std::string ok = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    CHECK(err(ok, 8).empty());
    CHECK(err(ok, 12).find("unused bytes at the end") != std::string::npos);
    CHECK(err(ok, 4).find("out of range") != std::string::npos);
    CHECK(err("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)
              .find("F32 [3] needs 12 bytes, data_offsets give 8") != std::string::npos);
    CHECK(err("{\"x\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8).find("dtype C64 not supported") !=
          std::string::npos);
    CHECK(err("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}", 10)
              .find("overlaps") != std::string::npos);
    CHECK(err("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8).find("hole of 4 bytes") !=
          std::string::npos);
    CHECK(err("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)
              .find("duplicate entry \"x\"") != std::string::npos);
    CHECK(err("{\"__metadata__\":{\"a\":1}}", 0).find("not a string") != std::string::npos);
    // A shape whose element count wraps around 2^64 (here to 0, matching 0 bytes) is refused.
    CHECK(err("{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776,16777216],\"data_offsets\":[0,0]}}", 0)
              .find("too many elements") != std::string::npos);
    CHECK(err("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4).find("header JSON") !=
          std::string::npos);
    // Header length beyond the file.
    Bytes f = file(ok, 8);
    f[0] = 200;
    CHECK(error_of([&] { parse_safetensors(f, "m.st"); }).find("exceeds the") != std::string::npos);
    CHECK(error_of([&] { parse_safetensors(Bytes{1, 2}, "m.st"); }).find("shorter than the 8-byte") !=
          std::string::npos);
    // A truncated real file.
    const float v[3] = {1, 2, 3};
    Bytes g = serialize_safetensors({{"v", {3}, v}}, {});
    g.resize(g.size() - 1);
    CHECK(error_of([&] { parse_safetensors(g, "cut.st"); }).find("out of range") != std::string::npos);
}

}  // TEST_SUITE
