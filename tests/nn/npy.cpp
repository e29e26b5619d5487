// .npy reading and writing (src/nn/npy.cpp): known answers from numpy's header layout
// (tools/gen_data_golden.py), our writer byte for byte against them, and every refusal.
#include "doctest/doctest.h"

#include "nn_data_util.hpp"
#include "bt/nn/npy.hpp"

#include <cstring>
#include <limits>

using namespace bt::nn;
using bt_test::Bytes;
using bt_test::golden;
using bt_test::refusal;

namespace {

// A .npy file image with the given header dict text (padded as numpy pads) and data bytes.
Bytes npy_with(const std::string& dict, std::size_t data_bytes, unsigned major = 1) {
    std::string h = dict;
    const std::size_t pre = major == 1 ? 10 : 12;
    h += std::string(64 - (pre + h.size() + 1) % 64, ' ') + "\n";
    Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
    bt_test::put_le(b, h.size(), major == 1 ? 2 : 4);
    b.insert(b.end(), h.begin(), h.end());
    b.resize(b.size() + data_bytes, 7);
    return b;
}

std::string parse_error(const Bytes& b) {
    return refusal([&] { parse_npy_header(b.data(), b.size(), "t.npy"); });
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("npy: numpy's files read to the values written, and our writer gives the same bytes") {
    const Bytes f = golden("npy_f32_2x3.npy");
    const NpyHeader h = parse_npy_header(f.data(), f.size(), "f");
    CHECK(h.type == NpyType::F32);
    CHECK(h.shape == std::vector<std::size_t>{2, 3});
    CHECK(h.data_offset == 128);  // numpy pads the header so that the data starts at a multiple of 64
    const std::vector<float> v = npy_floats(f.data(), f.size(), h, "f");
    CHECK(v == std::vector<float>{0.5f, -1.25f, 3.0f, 1e-3f, 2.5f, -0.0f});
    CHECK(npy_encode(NpyType::F32, {2, 3}, v.data()) == f);

    const Bytes i = golden("npy_i64_4.npy");
    const NpyHeader hi = parse_npy_header(i.data(), i.size(), "i");
    CHECK(npy_integers(i.data(), i.size(), hi, "i") == std::vector<std::int64_t>{0, 7, -3, 255});
    const std::int64_t iv[4] = {0, 7, -3, 255};
    CHECK(npy_encode(NpyType::I64, {4}, iv) == i);

    const Bytes u = golden("npy_u8_2x2x3.npy");
    const NpyHeader hu = parse_npy_header(u.data(), u.size(), "u");
    CHECK(hu.describe() == "uint8 [2, 2, 3]");
    const std::vector<std::uint8_t> px = npy_u8(u.data(), u.size(), hu, "u");
    CHECK(px.size() == 12);
    CHECK(px[11] == 11);
    CHECK(npy_encode(NpyType::U8, {2, 2, 3}, px.data()) == u);
    CHECK(npy_integers(u.data(), u.size(), hu, "u")[5] == 5);  // uint8 labels are integers too

    const Bytes d = golden("npy_f64_1x2.npy");  // float64 features are rounded to float32
    const NpyHeader hd = parse_npy_header(d.data(), d.size(), "d");
    CHECK(npy_floats(d.data(), d.size(), hd, "d") == std::vector<float>{static_cast<float>(1.0 / 3), -2.0f});
}

TEST_CASE("npy: versions 2 and 3, any key order, scalars and empty arrays") {
    Bytes b = npy_with("{'shape': (2,), 'fortran_order': False, 'descr': '<i4', }", 8, 2);
    NpyHeader h = parse_npy_header(b.data(), b.size(), "t");
    CHECK(h.type == NpyType::I32);
    CHECK(h.count == 2);
    b = npy_with("{\"descr\": \"<u2\", \"fortran_order\": False, \"shape\": ()}", 2, 3);
    CHECK(parse_npy_header(b.data(), b.size(), "t").count == 1);
    b = npy_with("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 28, 28), }", 0);
    CHECK(parse_npy_header(b.data(), b.size(), "t").count == 0);
}

TEST_CASE("npy: a 40-byte header claiming 2^40 elements, and every other malformed header, is refused") {
    // The bomb: 2^40 bytes promised by a file of a few dozen bytes.
    Bytes bomb = npy_with("{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776,), }", 0);
    CHECK(parse_error(bomb).find("promises uint8 [1099511627776] = 1099511627776 data bytes, the file holds 0 (truncated)") !=
          std::string::npos);
    // A product that wraps around 2^64.
    CHECK(parse_error(npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0))
              .find("overflows") != std::string::npos);
    struct Case {
        Bytes file;
        const char* says;
    };
    const std::vector<Case> cases = {
        {Bytes{'x', 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0}, "not a .npy file"},
        {Bytes{0x93, 'N', 'U', 'M', 'P', 'Y', 4, 0, 0, 0}, "format version 4.0"},
        {Bytes{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff}, "runs past the end"},
        {Bytes{0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 2, 0}, "at most 65,536"},
        {npy_with("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4), "big-endian"},
        {npy_with("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8), "object"},
        {npy_with("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8), "not supported"},
        {npy_with("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16), "C order"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12), "trailing comma"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, }", 4), "needs 'descr', 'fortran_order' and 'shape'"},
        {npy_with("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4), "repeated key"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4), "unexpected or repeated key 'x'"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4), "non-negative integer"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8, 9), }", 4), "dimensions"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7), "(truncated)"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9), "(trailing bytes)"},
        {npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", 8), "unexpected text"},
    };
    for (const Case& c : cases) {
        const std::string e = parse_error(c.file);
        INFO(e);
        CHECK(e.find(c.says) != std::string::npos);
        CHECK(e.find("t.npy") != std::string::npos);  // names the file
    }
}

TEST_CASE("npy: element types are checked where they are read") {
    const Bytes f = golden("npy_f32_2x3.npy");
    const NpyHeader h = parse_npy_header(f.data(), f.size(), "f.npy");
    CHECK(refusal([&] { npy_u8(f.data(), f.size(), h, "f.npy"); }).find("expected uint8") != std::string::npos);
    CHECK(refusal([&] { npy_integers(f.data(), f.size(), h, "f.npy"); }).find("expected an integer") != std::string::npos);
    const Bytes i = golden("npy_i64_4.npy");
    const NpyHeader hi = parse_npy_header(i.data(), i.size(), "i.npy");
    CHECK(refusal([&] { npy_floats(i.data(), i.size(), hi, "i.npy"); }).find("float32 or float64") != std::string::npos);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const Bytes n = npy_encode(NpyType::F32, {1}, &nan);
    CHECK(refusal([&] { npy_floats(n.data(), n.size(), parse_npy_header(n.data(), n.size(), "n"), "n"); })
              .find("not a finite") != std::string::npos);
    const std::uint64_t big = std::uint64_t{1} << 63;
    const Bytes u = npy_encode(NpyType::U64, {1}, &big);
    CHECK(refusal([&] { npy_integers(u.data(), u.size(), parse_npy_header(u.data(), u.size(), "u"), "u"); })
              .find("does not fit int64") != std::string::npos);
}

}  // TEST_SUITE
