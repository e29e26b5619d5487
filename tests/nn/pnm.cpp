// PGM/PPM reading and writing (src/nn/pnm.cpp): known answers, comments, maxval scaling,
// our writer read back, and every refusal.
#include "doctest/doctest.h"

#include "nn_data_util.hpp"
#include "bt/nn/pnm.hpp"

using namespace bt::nn;
using bt_test::Bytes;
using bt_test::refusal;

namespace {

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string decode_error(const Bytes& b) {
    return refusal([&] { decode_pnm(b.data(), b.size(), "t.pgm"); });
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("pnm: binary PGM and PPM with comments; maxval below 255 is scaled") {
    const Bytes pgm = text("P5 # gray\n3 2 # size\n255\n\x01\x02\x03\x04\x05\xff");
    const Image g = decode_pnm(pgm.data(), pgm.size(), "g");
    CHECK(g.channels == 1);
    CHECK(g.cols == 3);
    CHECK(g.rows == 2);
    CHECK(g.pixels == Bytes{1, 2, 3, 4, 5, 255});
    const Bytes ppm = {'P', '6', '\n', '1', ' ', '2', '\n', '1', '5', '\n', 0x0f, 0x00, 0x07, 0x01, 0x02, 0x03};
    const Image c = decode_pnm(ppm.data(), ppm.size(), "c");
    CHECK(c.channels == 3);
    CHECK(c.pixels == Bytes{255, 0, 119, 17, 34, 51});  // round(v * 255 / 15)
    Image im;
    im.rows = 2;
    im.cols = 2;
    im.channels = 3;
    im.pixels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const Bytes enc = encode_pnm(im);
    const Image back = decode_pnm(enc.data(), enc.size(), "e");
    CHECK(back.pixels == im.pixels);
    CHECK(back.channels == 3);
}

TEST_CASE("pnm: malformed and unsupported files are refused with what was found") {
    struct Case {
        std::string file;
        const char* says;
    };
    const std::vector<Case> cases = {
        {"P2\n1 1\n255\n7\n", "P2 is not read"},
        {"P4\n8 1\n\xff", "P4 is not read"},
        {"XX", "not a PGM/PPM"},
        {"P5\n3 x\n255\n", "expected the height"},
        {"P5\n3 2\n65535\n", "16-bit files are not read"},
        {"P5\n3 2\n0\n", "maxval 0"},
        {"P5\n0 2\n255\n", "0 x 2 pixels"},
        {"P5\n3 2\n255", "one white-space byte after maxval"},
        {"P5\n3 2\n255\n\x01\x02", "(truncated)"},
        {"P5\n3 1\n255\n\x01\x02\x03\x04", "(trailing bytes)"},
        {"P5\n2 1\n10\n\x01\x0b", "above maxval"},
        {"P5\n12345678901 1\n255\n", "more than 10 digits"},
        {"P6\n99999 99999\n255\n", "MiB an image may take"},
    };
    for (const Case& c : cases) {
        const std::string e = decode_error(text(c.file));
        INFO(c.file, " -> ", e);
        CHECK(e.find(c.says) != std::string::npos);
        CHECK(e.find("t.pgm") != std::string::npos);
    }
}

}  // TEST_SUITE
