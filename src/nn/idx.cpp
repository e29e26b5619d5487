// IDX reader; see include/bt/nn/idx.hpp.
#include "bt/nn/idx.hpp"

#include "bt/os.hpp"

#include "bt/nn/inflate.hpp"

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error("IDX " + name + ": " + what);
}

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
}

std::string hex32(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

// Checks magic and dimensions in the first bytes of the (decompressed) file and returns
// the dimensions and the total size the header promises, overflow-checked.
std::vector<std::size_t> read_dims(const std::uint8_t* p, std::size_t n, std::size_t want_dims, const std::string& name,
                                   std::size_t& total) {
    if (n < 4) fail(name, "file is " + std::to_string(n) + " bytes, too short for the 4-byte magic");
    const std::uint32_t want_magic = 0x00000800u | static_cast<std::uint32_t>(want_dims);
    const std::uint32_t magic = be32(p);
    if (magic != want_magic) {
        std::string hint = (magic & 0xFFFFFF00u) == 0x00000800u
                               ? " (an unsigned-byte IDX file with " + std::to_string(magic & 0xFF) + " dimensions)"
                               : " (not an unsigned-byte IDX file)";
        fail(name, "magic " + hex32(magic) + hint + ", expected " + hex32(want_magic) + " for " +
                       (want_dims == 3 ? "images" : "labels"));
    }
    const std::size_t data_off = 4 + 4 * want_dims;
    if (n < data_off)
        fail(name, "header truncated: " + std::to_string(n) + " bytes, expected at least " + std::to_string(data_off));
    std::vector<std::size_t> dims(want_dims);
    total = 1;
    constexpr std::size_t kMaxData = std::size_t{1} << 36;  // 64 GiB: no IDX data set comes near
    for (std::size_t d = 0; d < want_dims; ++d) {
        dims[d] = be32(p + 4 + 4 * d);
        if (dims[d] == 0) fail(name, "dimension " + std::to_string(d) + " is 0");
        if (total > kMaxData / dims[d])
            fail(name, "the header's dimensions promise more than " + std::to_string(kMaxData) + " bytes: not a real data set");
        total *= dims[d];
    }
    total += data_off;
    return dims;
}

// Decompresses if needed (reading the header first and inflating no further than it
// promises), checks magic and sizes, returns the dimensions and where the data starts.
std::vector<std::size_t> parse_header(const std::vector<std::uint8_t>& raw, std::size_t want_dims,
                                      const std::string& name, std::vector<std::uint8_t>& plain,
                                      std::size_t& data_off) {
    data_off = 4 + 4 * want_dims;
    std::size_t total = 0;
    std::vector<std::size_t> dims;
    if (is_gzip(raw.data(), raw.size())) {
        try {
            const std::vector<std::uint8_t> head = gunzip_prefix(raw.data(), raw.size(), data_off);
            dims = read_dims(head.data(), head.size(), want_dims, name, total);
            if (total > gzip_max_output(raw.size()))
                fail(name, "the header promises " + std::to_string(total) + " bytes, more than " +
                               std::to_string(raw.size()) + " bytes of gzip can hold: the file is corrupt");
            plain = gunzip(raw.data(), raw.size(), total);
        } catch (const std::runtime_error& e) {
            const std::string m = e.what();
            if (m.rfind(name, 0) == 0) throw;
            fail(name, std::string("cannot decompress: ") + m);
        }
    } else {
        plain = raw;
        dims = read_dims(plain.data(), plain.size(), want_dims, name, total);
    }
    if (plain.size() != total)
        fail(name, "header promises " + std::to_string(total - data_off) + " data bytes, file holds " +
                       std::to_string(plain.size() - std::min(plain.size(), data_off)) +
                       (plain.size() < total ? " (truncated)" : " (trailing bytes)"));
    return dims;
}

}  // namespace

IdxImages parse_idx_images(const std::vector<std::uint8_t>& bytes, const std::string& name) {
    std::vector<std::uint8_t> plain;
    std::size_t off = 0;
    const std::vector<std::size_t> dims = parse_header(bytes, 3, name, plain, off);
    IdxImages im;
    im.count = dims[0];
    im.rows = dims[1];
    im.cols = dims[2];
    im.pixels.assign(plain.begin() + static_cast<std::ptrdiff_t>(off), plain.end());
    return im;
}

IdxLabels parse_idx_labels(const std::vector<std::uint8_t>& bytes, const std::string& name) {
    std::vector<std::uint8_t> plain;
    std::size_t off = 0;
    parse_header(bytes, 1, name, plain, off);
    IdxLabels lb;
    lb.labels.assign(plain.begin() + static_cast<std::ptrdiff_t>(off), plain.end());
    return lb;
}

IdxImages read_idx_images(const std::string& path) { return parse_idx_images(bt::read_file(path), path); }
IdxLabels read_idx_labels(const std::string& path) { return parse_idx_labels(bt::read_file(path), path); }

std::string fashion_mnist_path(const std::string& split, bool images) {
    return "/usr/share/datasets/fashion-mnist/" + split + (images ? "-images-idx3-ubyte.gz" : "-labels-idx1-ubyte.gz");
}

}  // namespace bt::nn
