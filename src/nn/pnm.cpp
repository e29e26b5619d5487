// PGM/PPM reading and writing; see include/bt/nn/pnm.hpp.
#include "bt/nn/pnm.hpp"

#include <stdexcept>
#include <vector>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error("PGM/PPM " + name + ": " + what);
}

bool space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// The next header number: white space and comments skipped, at most 10 digits.
std::size_t header_number(const std::uint8_t* p, std::size_t n, std::size_t& pos, const char* what,
                          const std::string& name) {
    for (;;) {
        while (pos < n && space(p[pos])) ++pos;
        if (pos < n && p[pos] == '#') {
            while (pos < n && p[pos] != '\n') ++pos;
            continue;
        }
        break;
    }
    if (pos >= n || p[pos] < '0' || p[pos] > '9')
        fail(name, std::string("expected the ") + what + " (a decimal number) in the header at byte " + std::to_string(pos));
    std::size_t v = 0, digits = 0;
    while (pos < n && p[pos] >= '0' && p[pos] <= '9') {
        if (++digits > 10) fail(name, std::string("the ") + what + " has more than 10 digits");
        v = v * 10 + static_cast<std::size_t>(p[pos++] - '0');
    }
    return v;
}

}  // namespace

bool is_pnm(const std::uint8_t* p, std::size_t n) { return n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6'); }

Image decode_pnm(const std::uint8_t* p, std::size_t n, const std::string& name) {
    if (n < 2 || p[0] != 'P' || p[1] < '1' || p[1] > '7')
        fail(name, "not a PGM/PPM file (expected the magic P5 or P6)");
    if (!is_pnm(p, n))
        fail(name, std::string("netpbm type P") + static_cast<char>(p[1]) +
                       " is not read (only binary P5 gray and P6 RGB; e.g. `pnmtopnm` or `convert` to binary)");
    Image im;
    im.channels = p[1] == '5' ? 1 : 3;
    std::size_t pos = 2;
    im.cols = header_number(p, n, pos, "width", name);
    im.rows = header_number(p, n, pos, "height", name);
    const std::size_t maxval = header_number(p, n, pos, "maxval", name);
    if (im.cols == 0 || im.rows == 0) fail(name, "image of " + std::to_string(im.cols) + " x " + std::to_string(im.rows) + " pixels");
    if (maxval == 0 || maxval > 255)
        fail(name, "maxval " + std::to_string(maxval) + " (expected 1..255: 16-bit files are not read; convert to 8 bits)");
    if (pos >= n || !space(p[pos])) fail(name, "expected one white-space byte after maxval (truncated header)");
    ++pos;
    if (im.rows * im.cols > kMaxImageBytes / im.channels)
        fail(name, std::to_string(im.cols) + " x " + std::to_string(im.rows) + " pixels is above the " +
                       std::to_string(kMaxImageBytes >> 20) + " MiB an image may take");
    const std::size_t bytes = im.rows * im.cols * im.channels;
    if (n - pos != bytes)
        fail(name, "the header promises " + std::to_string(bytes) + " bytes of samples, the file holds " +
                       std::to_string(n - pos) + (n - pos < bytes ? " (truncated)" : " (trailing bytes)"));
    im.pixels.assign(p + pos, p + n);
    for (std::uint8_t& v : im.pixels) {
        if (v > maxval) fail(name, "a sample of " + std::to_string(v) + " is above maxval " + std::to_string(maxval));
        if (maxval != 255) v = static_cast<std::uint8_t>((v * 255u + maxval / 2) / maxval);
    }
    return im;
}

std::vector<std::uint8_t> encode_pnm(const Image& im) {
    if (im.channels != 1 && im.channels != 3) throw std::invalid_argument("encode_pnm: 1 or 3 channels");
    const std::string head = std::string(im.channels == 1 ? "P5" : "P6") + "\n" + std::to_string(im.cols) + " " +
                             std::to_string(im.rows) + "\n255\n";
    std::vector<std::uint8_t> out(head.begin(), head.end());
    out.insert(out.end(), im.pixels.begin(), im.pixels.end());
    return out;
}

}  // namespace bt::nn
