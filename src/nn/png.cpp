// PNG decoding; see include/bt/nn/png.hpp.
#include "bt/nn/png.hpp"

#include "bt/nn/inflate.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error("PNG " + name + ": " + what);
}

const std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
}

// ---------------------------------------------------------------- chunks
struct Chunk {
    std::string type;
    const std::uint8_t* data;
    std::size_t len;
};

// The chunk at `pos`, CRC checked; advances `pos`.
Chunk next_chunk(const std::uint8_t* p, std::size_t n, std::size_t& pos, const std::string& name) {
    if (n - pos < 12) fail(name, "truncated: a chunk needs 12 bytes at offset " + std::to_string(pos) + ", " +
                                     std::to_string(n - pos) + " are left (no IEND chunk)");
    const std::size_t len = be32(p + pos);
    if (len > 0x7FFFFFFFu || len > n - pos - 12)
        fail(name, "chunk at offset " + std::to_string(pos) + " claims " + std::to_string(len) + " bytes, " +
                       std::to_string(n - pos - 12) + " are left (truncated or corrupt)");
    Chunk c{std::string(reinterpret_cast<const char*>(p + pos + 4), 4), p + pos + 8, len};
    for (char ch : c.type)
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) fail(name, "chunk type with a non-letter byte: corrupt");
    const std::uint32_t want = be32(p + pos + 8 + len), got = crc32(p + pos + 4, len + 4);
    if (want != got) fail(name, "CRC mismatch in the " + c.type + " chunk at offset " + std::to_string(pos) + " (corrupt)");
    pos += 12 + len;
    return c;
}

PngInfo parse_ihdr(const Chunk& c, const std::string& name) {
    if (c.type != "IHDR" || c.len != 13) fail(name, "the first chunk is " + c.type + ", expected a 13-byte IHDR");
    PngInfo h;
    h.width = be32(c.data);
    h.height = be32(c.data + 4);
    h.bit_depth = c.data[8];
    h.color_type = c.data[9];
    if (h.width == 0 || h.height == 0 || h.width > 0x7FFFFFFFu || h.height > 0x7FFFFFFFu)
        fail(name, "image of " + std::to_string(h.width) + " x " + std::to_string(h.height) + " pixels (each from 1 to 2^31 - 1)");
    const unsigned d = h.bit_depth, t = h.color_type;
    const bool valid = (t == 0 && (d == 1 || d == 2 || d == 4 || d == 8 || d == 16)) ||
                       (t == 3 && (d == 1 || d == 2 || d == 4 || d == 8)) ||
                       ((t == 2 || t == 4 || t == 6) && (d == 8 || d == 16));
    if (!valid) fail(name, "colour type " + std::to_string(t) + " with bit depth " + std::to_string(d) + " is not valid PNG");
    if (d == 16)
        fail(name, "16-bit samples are not read: save the image with 8 bits per sample (e.g. `convert in.png -depth 8 out.png`)");
    if (c.data[10] != 0 || c.data[11] != 0)
        fail(name, "compression method " + std::to_string(c.data[10]) + " / filter method " + std::to_string(c.data[11]) +
                       " (expected 0 / 0)");
    if (c.data[12] > 1) fail(name, "interlace method " + std::to_string(c.data[12]) + " (expected 0 or 1)");
    h.interlaced = c.data[12] == 1;
    if (h.interlaced)
        fail(name, "interlaced (Adam7) PNGs are not read: save it without interlacing (e.g. `convert in.png -interlace none "
                   "out.png`)");
    if (h.width * h.height > kMaxImageBytes / h.channels())
        fail(name, std::to_string(h.width) + " x " + std::to_string(h.height) + " pixels is above the " +
                       std::to_string(kMaxImageBytes >> 20) + " MiB an image may take");
    return h;
}

unsigned samples_per_pixel(unsigned color_type) {
    switch (color_type) {
        case 2: return 3;
        case 4: return 2;
        case 6: return 4;
        default: return 1;
    }
}

// ---------------------------------------------------------------- zlib and filters
std::uint32_t adler32(const std::uint8_t* p, std::size_t n) {
    std::uint32_t a = 1, b = 0;
    for (std::size_t i = 0; i < n; ++i) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return b << 16 | a;
}

std::vector<std::uint8_t> unzlib(const std::vector<std::uint8_t>& z, std::size_t expect, const std::string& name) {
    if (z.size() < 6) fail(name, "image data of " + std::to_string(z.size()) + " bytes is too short for a zlib stream");
    if ((z[0] & 0x0F) != 8 || (z[0] >> 4) > 7 || ((z[0] << 8) | z[1]) % 31 != 0 || (z[1] & 0x20))
        fail(name, "the image data is not a zlib stream (bad CMF/FLG header or a preset dictionary)");
    if (expect > gzip_max_output(z.size()))
        fail(name, "the header implies " + std::to_string(expect) + " bytes of image data, more than " +
                       std::to_string(z.size()) + " compressed bytes can hold: the file is corrupt");
    std::vector<std::uint8_t> out;
    std::size_t used = 0;
    try {
        out = inflate_raw(z.data() + 2, z.size() - 2, &used, expect);
    } catch (const std::runtime_error& e) {
        fail(name, "image data (" + std::to_string(expect) + " bytes expected from the header): " + e.what());
    }
    if (out.size() != expect)
        fail(name, "image data inflates to " + std::to_string(out.size()) + " bytes, the header implies " +
                       std::to_string(expect) + " (truncated or corrupt)");
    if (z.size() - 2 - used < 4) fail(name, "the zlib stream has no Adler-32 checksum (truncated)");
    if (be32(z.data() + 2 + used) != adler32(out.data(), out.size())) fail(name, "Adler-32 mismatch in the image data (corrupt)");
    return out;
}

std::uint8_t paeth(int a, int b, int c) {
    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    return static_cast<std::uint8_t>(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Reverses the per-row filters in place: raw holds height rows of 1 + stride bytes.
void unfilter(std::vector<std::uint8_t>& raw, std::size_t height, std::size_t stride, std::size_t bpp,
              const std::string& name) {
    std::vector<std::uint8_t> zero(stride, 0);
    for (std::size_t y = 0; y < height; ++y) {
        std::uint8_t* row = raw.data() + y * (stride + 1);
        const std::uint8_t ft = row[0];
        std::uint8_t* cur = row + 1;
        const std::uint8_t* prev = y ? raw.data() + (y - 1) * (stride + 1) + 1 : zero.data();
        for (std::size_t i = 0; i < stride; ++i) {
            const int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
            int add = 0;
            switch (ft) {
                case 0: break;
                case 1: add = a; break;
                case 2: add = b; break;
                case 3: add = (a + b) / 2; break;
                case 4: add = paeth(a, b, c); break;
                default: fail(name, "row " + std::to_string(y) + " has filter type " + std::to_string(ft) + " (expected 0..4)");
            }
            cur[i] = static_cast<std::uint8_t>(cur[i] + add);
        }
    }
}

// Unfiltered rows to 8-bit gray or RGB samples.
Image expand(const std::vector<std::uint8_t>& raw, const PngInfo& h, std::size_t stride,
             const std::vector<std::uint8_t>& palette, const std::string& name) {
    Image im;
    im.rows = h.height;
    im.cols = h.width;
    im.channels = h.channels();
    im.pixels.resize(h.width * h.height * im.channels);
    const unsigned d = h.bit_depth, spp = samples_per_pixel(h.color_type);
    const std::size_t entries = palette.size() / 3;
    for (std::size_t y = 0; y < h.height; ++y) {
        const std::uint8_t* row = raw.data() + y * (stride + 1) + 1;
        std::uint8_t* out = im.pixels.data() + y * h.width * im.channels;
        for (std::size_t x = 0; x < h.width; ++x) {
            if (d == 8 && h.color_type != 3) {  // drop alpha, keep gray or RGB
                std::memcpy(out + x * im.channels, row + x * spp, im.channels);
                continue;
            }
            const std::size_t bit = x * d;
            const unsigned v = (row[bit / 8] >> (8 - d - bit % 8)) & ((1u << d) - 1);
            if (h.color_type == 0) {
                out[x] = static_cast<std::uint8_t>(v * 255 / ((1u << d) - 1));
            } else {
                if (v >= entries)
                    fail(name, "pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") uses palette index " +
                                   std::to_string(v) + ", the palette has " + std::to_string(entries) + " entries");
                std::memcpy(out + 3 * x, palette.data() + 3 * v, 3);
            }
        }
    }
    return im;
}

}  // namespace

bool is_png(const std::uint8_t* p, std::size_t n) { return n >= 8 && std::memcmp(p, kSignature, 8) == 0; }

PngInfo png_info(const std::uint8_t* p, std::size_t n, const std::string& name) {
    if (!is_png(p, n)) fail(name, "not a PNG file (expected the 8-byte PNG signature)");
    std::size_t pos = 8;
    return parse_ihdr(next_chunk(p, n, pos, name), name);
}

Image decode_png(const std::uint8_t* p, std::size_t n, const std::string& name) {
    const PngInfo h = png_info(p, n, name);
    std::size_t pos = 8;
    next_chunk(p, n, pos, name);  // IHDR
    std::vector<std::uint8_t> palette, z;
    bool idat_done = false;
    for (;;) {
        const Chunk c = next_chunk(p, n, pos, name);
        if (c.type == "IEND") break;
        if (c.type == "IDAT") {
            if (idat_done) fail(name, "IDAT chunks are not consecutive");
            z.insert(z.end(), c.data, c.data + c.len);
            continue;
        }
        if (!z.empty()) idat_done = true;
        if (c.type == "PLTE") {
            if (!z.empty() || !palette.empty() || c.len % 3 != 0 || c.len == 0 || c.len > 768)
                fail(name, "PLTE chunk misplaced, repeated or of " + std::to_string(c.len) + " bytes (3 to 768, a multiple of 3)");
            palette.assign(c.data, c.data + c.len);
        } else if (c.type == "IHDR") {
            fail(name, "a second IHDR chunk");
        } else if (c.type[0] >= 'A' && c.type[0] <= 'Z') {
            fail(name, "unknown critical chunk " + c.type);
        }  // ancillary chunks (tRNS, gAMA, tEXt, ...) are skipped
    }
    if (pos != n) fail(name, std::to_string(n - pos) + " bytes after the IEND chunk");
    if (z.empty()) fail(name, "no IDAT chunk (no image data)");
    if (h.color_type == 3 && palette.empty()) fail(name, "a palette image without a PLTE chunk");
    const std::size_t bits = std::size_t{h.bit_depth} * samples_per_pixel(h.color_type);
    const std::size_t stride = (h.width * bits + 7) / 8, bpp = bits >= 8 ? bits / 8 : 1;
    std::vector<std::uint8_t> raw = unzlib(z, h.height * (stride + 1), name);
    unfilter(raw, h.height, stride, bpp, name);
    return expand(raw, h, stride, palette, name);
}

}  // namespace bt::nn
