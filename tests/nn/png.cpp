// PNG decoding (src/nn/png.cpp) against files written by Python's zlib
// (tools/gen_data_golden.py): every colour type and bit depth, every filter type, several
// IDAT chunks, ancillary chunks, stored/fixed/dynamic DEFLATE; and every refusal.
#include "doctest/doctest.h"

#include "nn_data_util.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/nn/png.hpp"

using namespace bt::nn;
using bt_test::Bytes;
using bt_test::golden;
using bt_test::refusal;

namespace {

std::string decode_error(const Bytes& b) {
    return refusal([&] { decode_png(b.data(), b.size(), "t.png"); });
}

// Rewrites the CRC of the chunk starting at `at` (length, type, data, CRC) after an edit.
void fix_crc(Bytes& b, std::size_t at) {
    const std::size_t len = std::size_t{b[at]} << 24 | std::size_t{b[at + 1]} << 16 | std::size_t{b[at + 2]} << 8 | b[at + 3];
    const std::uint32_t c = crc32(b.data() + at + 4, len + 4);
    for (int k = 0; k < 4; ++k) b[at + 8 + len + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(c >> (24 - 8 * k));
}

// Rewrites the Adler-32 after `raw` bytes of a stored-block zlib stream at `z`.
void fix_adler(Bytes& b, std::size_t z, std::size_t raw) {
    std::uint32_t a = 1, s = 0;
    for (std::size_t i = 0; i < raw; ++i) {
        a = (a + b[z + 7 + i]) % 65521u;
        s = (s + a) % 65521u;
    }
    const std::uint32_t v = s << 16 | a;
    for (int k = 0; k < 4; ++k) b[z + 7 + raw + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(v >> (24 - 8 * k));
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("png: every colour type, bit depth and filter type decodes to the generator's pixels") {
    const char* names[] = {"gray8_f0", "gray8_f1", "gray8_f2", "gray8_f3", "gray8_f4", "gray8_mixed", "gray1",
                           "gray2",    "gray4",    "rgb8",     "rgba8",    "graya8",   "palette1",    "palette2",
                           "palette4", "palette8"};
    for (const char* n : names) {
        INFO(n);
        const Bytes file = golden(std::string("png_") + n + ".png");
        const Bytes want = golden(std::string("png_") + n + ".raw");
        const PngInfo info = png_info(file.data(), file.size(), n);
        CHECK(info.width == 13);
        CHECK(info.height == 7);
        const Image im = decode_png(file.data(), file.size(), n);
        CHECK(im.cols == 13);
        CHECK(im.rows == 7);
        CHECK(im.channels == info.channels());
        CHECK(im.channels == want.size() / (13 * 7));
        CHECK(im.pixels == want);
    }
}

TEST_CASE("png: interlaced and 16-bit images are refused with what to do") {
    const Bytes il = golden("png_refused_interlaced.png");
    CHECK(decode_error(il).find("interlaced (Adam7) PNGs are not read: save it without interlacing") != std::string::npos);
    CHECK(refusal([&] { png_info(il.data(), il.size(), "t.png"); }).find("interlaced") != std::string::npos);
    CHECK(decode_error(golden("png_refused_16bit.png")).find("16-bit samples are not read") != std::string::npos);
}

TEST_CASE("png: malformed files are refused, naming the file and what was found") {
    const Bytes good = golden("png_gray8_mixed.png");
    CHECK(decode_error(good).empty());
    struct Case {
        Bytes file;
        const char* says;
    };
    std::vector<Case> cases;
    cases.push_back({Bytes(good.begin(), good.begin() + 8), "truncated"});
    cases.push_back({Bytes(good.begin(), good.end() - 12), "no IEND"});  // IEND cut off
    Bytes sig = good;
    sig[1] = 'Q';
    cases.push_back({sig, "PNG signature"});
    Bytes crc = good;
    crc[20] ^= 1;  // inside IHDR: CRC mismatch
    cases.push_back({crc, "CRC mismatch in the IHDR chunk"});
    Bytes huge = good;  // IHDR: 2^31 - 1 x 2^31 - 1, CRC fixed: refused before any allocation
    for (int k = 0; k < 8; ++k) huge[16 + static_cast<std::size_t>(k)] = k % 4 == 0 ? 0x7f : 0xff;
    fix_crc(huge, 8);
    cases.push_back({huge, "MiB an image may take"});
    Bytes wide = good;  // 65,535 x 7 gray pixels: the header implies far more than 61 IDAT bytes can hold
    wide[18] = 0xff;
    wide[19] = 0xff;
    fix_crc(wide, 8);
    cases.push_back({wide, "more than"});
    Bytes depth = good;
    depth[24] = 3;  // bit depth 3
    fix_crc(depth, 8);
    cases.push_back({depth, "bit depth 3 is not valid"});
    Bytes method = good;
    method[26] = 1;  // filter method 1
    fix_crc(method, 8);
    cases.push_back({method, "filter method"});
    Bytes tall = good;  // 8 rows promised, 7 in the data
    tall[23] = 8;
    fix_crc(tall, 8);
    cases.push_back({tall, "inflates to 98 bytes, the header implies 112"});
    Bytes shorter = good;  // 6 rows promised, 7 in the data: inflation stops at the header's size
    shorter[23] = 6;
    fix_crc(shorter, 8);
    cases.push_back({shorter, "exceeds the limit of 84 bytes"});
    Bytes trailing = good;
    trailing.push_back(0);
    cases.push_back({trailing, "after the IEND chunk"});
    for (const Case& c : cases) {
        const std::string e = decode_error(c.file);
        INFO(e);
        CHECK(e.find(c.says) != std::string::npos);
        CHECK(e.find("t.png") != std::string::npos);
    }
}

TEST_CASE("png: bad filter types, palette indices, zlib headers and chunk order are refused") {
    // The stored-block (level 0) gray image: its filter bytes and samples sit in plain
    // sight after the 2-byte zlib header and the 5-byte stored block header.
    const Bytes g = golden("png_gray8_f0.png");
    const std::size_t idat = 8 + 25;  // signature, IHDR chunk
    REQUIRE(std::string(g.begin() + idat + 4, g.begin() + idat + 8) == "IDAT");
    Bytes ft = g;
    ft[idat + 8 + 2 + 5] = 9;  // the first row's filter type
    fix_adler(ft, idat + 8, 7 * 14);
    fix_crc(ft, idat);
    CHECK(decode_error(ft).find("row 0 has filter type 9") != std::string::npos);
    Bytes adler = g;
    adler[idat + 8 + 2 + 5 + 3] ^= 1;  // a sample: the Adler-32 no longer matches
    fix_crc(adler, idat);
    CHECK(decode_error(adler).find("Adler-32 mismatch") != std::string::npos);
    Bytes cmf = g;
    cmf[idat + 8] = 0x79;  // CM 9
    fix_crc(cmf, idat);
    CHECK(decode_error(cmf).find("not a zlib stream") != std::string::npos);
    const Bytes p = golden("png_palette8.png");
    // The PLTE chunk follows IHDR: shrink its length so palette indices fall outside it.
    Bytes plte = p;
    REQUIRE(std::string(p.begin() + idat + 4, p.begin() + idat + 8) == "PLTE");
    const std::size_t len = std::size_t{p[idat + 2]} << 8 | p[idat + 3];
    Bytes small(p.begin(), p.begin() + static_cast<long>(idat));
    const Bytes plte_chunk = {0, 0, 0, 3, 'P', 'L', 'T', 'E', 1, 2, 3, 0, 0, 0, 0};
    small.insert(small.end(), plte_chunk.begin(), plte_chunk.end());
    fix_crc(small, idat);
    small.insert(small.end(), p.begin() + static_cast<long>(idat + 12 + len), p.end());
    CHECK(decode_error(small).find("palette index") != std::string::npos);
    Bytes no_plte(p.begin(), p.begin() + static_cast<long>(idat));
    no_plte.insert(no_plte.end(), p.begin() + static_cast<long>(idat + 12 + len), p.end());
    CHECK(decode_error(no_plte).find("without a PLTE") != std::string::npos);
    Bytes crit = g;  // an unknown critical chunk type
    crit[idat + 4] = 'Q';
    fix_crc(crit, idat);
    CHECK(decode_error(crit).find("unknown critical chunk QDAT") != std::string::npos);
}

}  // TEST_SUITE
