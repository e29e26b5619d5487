// NumPy .npy reading and writing; see include/bt/nn/npy.hpp.
#include "bt/nn/npy.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error(".npy " + name + ": " + what);
}

constexpr std::size_t kMaxHeader = 65536;  // numpy itself refuses headers above 10,000 bytes
constexpr std::size_t kMaxDims = 8;

struct TypeInfo {
    NpyType type;
    const char* descr;
    const char* name;
    std::size_t size;
};
constexpr TypeInfo kTypes[] = {
    {NpyType::U8, "|u1", "uint8", 1},     {NpyType::I8, "|i1", "int8", 1},      {NpyType::Bool, "|b1", "bool", 1},
    {NpyType::U16, "<u2", "uint16", 2},   {NpyType::I16, "<i2", "int16", 2},    {NpyType::U32, "<u4", "uint32", 4},
    {NpyType::I32, "<i4", "int32", 4},    {NpyType::U64, "<u8", "uint64", 8},   {NpyType::I64, "<i8", "int64", 8},
    {NpyType::F32, "<f4", "float32", 4},  {NpyType::F64, "<f8", "float64", 8},
};

const TypeInfo& info(NpyType t) {
    for (const TypeInfo& i : kTypes)
        if (i.type == t) return i;
    throw std::logic_error("npy: unknown type");
}

// ---------------------------------------------------------------- the header dict
// A strict reader of the one Python literal np.save writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class DictReader {
public:
    DictReader(const std::string& s, const std::string& name) : s_(s), name_(name) {}
    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    }
    bool eat(char c) {
        skip_ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void expect(char c, const char* where) {
        if (!eat(c)) bad(std::string("expected '") + c + "' " + where);
    }
    std::string string_literal() {
        skip_ws();
        if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) bad("expected a quoted string");
        const char q = s_[i_++];
        const std::size_t end = s_.find(q, i_);
        if (end == std::string::npos || end - i_ > 64) bad("unterminated or overlong string");
        std::string v = s_.substr(i_, end - i_);
        i_ = end + 1;
        return v;
    }
    bool boolean() {
        skip_ws();
        for (const char* w : {"False", "True"})
            if (s_.compare(i_, std::strlen(w), w) == 0) {
                i_ += std::strlen(w);
                return w[0] == 'T';
            }
        bad("expected True or False");
    }
    std::vector<std::size_t> tuple() {
        expect('(', "to open the shape tuple");
        std::vector<std::size_t> dims;
        while (!eat(')')) {
            skip_ws();
            if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') bad("expected a non-negative integer in the shape");
            std::size_t v = 0;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
                const auto digit = static_cast<std::size_t>(s_[i_++] - '0');
                if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10) bad("a dimension overflows");
                v = v * 10 + digit;
            }
            dims.push_back(v);
            if (dims.size() > kMaxDims) bad("more than " + std::to_string(kMaxDims) + " dimensions");
            if (!eat(',')) {
                expect(')', "to close the shape tuple");
                if (dims.size() == 1) bad("a one-element tuple needs a trailing comma: (n,)");
                break;
            }
        }
        return dims;
    }
    // Only spaces and one final newline may follow the dict.
    void finish() {
        skip_ws();
        if (i_ + 1 == s_.size() && s_[i_] == '\n') return;
        if (i_ == s_.size()) bad("the header does not end with a newline");
        bad("unexpected text after the dict");
    }
    [[noreturn]] void bad(const std::string& what) const {
        fail(name_, "malformed header at character " + std::to_string(i_) + ": " + what + " (header: " +
                        s_.substr(0, 120) + ")");
    }

private:
    const std::string& s_;
    const std::string& name_;
    std::size_t i_ = 0;
};

NpyType type_of_descr(const std::string& d, const std::string& name) {
    for (const TypeInfo& t : kTypes)
        if (d == t.descr || (t.size == 1 && d.size() == 3 && d[0] == '<' && d.substr(1) == std::string(t.descr + 1)))
            return t.type;
    if (!d.empty() && d[0] == '>')
        fail(name, "dtype '" + d + "' is big-endian; save it little-endian (arr.astype(arr.dtype.newbyteorder('<')))");
    if (d == "|O" || d == "O")
        fail(name, "dtype object (pickled Python objects) is not read; save a numeric array");
    fail(name, "dtype '" + d + "' is not supported (expected one of |u1 |i1 |b1 <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8)");
}

}  // namespace

const char* npy_descr(NpyType t) { return info(t).descr; }
std::size_t npy_item_size(NpyType t) { return info(t).size; }
bool npy_is_integer(NpyType t) { return t != NpyType::Bool && t != NpyType::F32 && t != NpyType::F64; }

std::string NpyHeader::describe() const {
    std::string s = std::string(info(type).name) + " [";
    for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + "]";
}

NpyHeader parse_npy_header(const std::uint8_t* p, std::size_t n, const std::string& name) {
    static const std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (n < 10 || std::memcmp(p, kMagic, 6) != 0)
        fail(name, "not a .npy file (expected the magic \\x93NUMPY at the start, file of " + std::to_string(n) + " bytes)");
    const unsigned major = p[6], minor = p[7];
    if (major < 1 || major > 3 || minor != 0)
        fail(name, "format version " + std::to_string(major) + "." + std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)");
    std::size_t hlen = 0, off = 0;
    if (major == 1) {
        hlen = std::size_t{p[8]} | std::size_t{p[9]} << 8;
        off = 10;
    } else {
        if (n < 12) fail(name, "truncated: " + std::to_string(n) + " bytes, the version-2 preamble has 12");
        hlen = std::size_t{p[8]} | std::size_t{p[9]} << 8 | std::size_t{p[10]} << 16 | std::size_t{p[11]} << 24;
        off = 12;
    }
    if (hlen > kMaxHeader) fail(name, "header of " + std::to_string(hlen) + " bytes (at most 65,536 accepted)");
    if (hlen > n - off)
        fail(name, "header of " + std::to_string(hlen) + " bytes runs past the end of the " + std::to_string(n) +
                       "-byte file (truncated)");
    const std::string text(reinterpret_cast<const char*>(p + off), hlen);
    NpyHeader h;
    h.data_offset = off + hlen;
    DictReader r(text, name);
    r.expect('{', "at the start of the header");
    bool have_descr = false, have_order = false, have_shape = false;
    while (!r.eat('}')) {
        const std::string key = r.string_literal();
        r.expect(':', "after a key");
        if (key == "descr" && !have_descr) {
            h.type = type_of_descr(r.string_literal(), name);
            have_descr = true;
        } else if (key == "fortran_order" && !have_order) {
            if (r.boolean()) fail(name, "fortran_order is True; save the array in C order (np.ascontiguousarray)");
            have_order = true;
        } else if (key == "shape" && !have_shape) {
            h.shape = r.tuple();
            have_shape = true;
        } else {
            r.bad("unexpected or repeated key '" + key + "'");
        }
        if (!r.eat(',')) {
            r.expect('}', "to close the dict");
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape) r.bad("the dict needs 'descr', 'fortran_order' and 'shape'");
    r.finish();
    const std::size_t item = npy_item_size(h.type), avail = n - h.data_offset;
    h.count = 1;
    for (std::size_t d : h.shape) {
        if (d != 0 && h.count > std::numeric_limits<std::size_t>::max() / item / d)
            fail(name, "shape " + h.describe() + " overflows the size arithmetic: not a real array");
        h.count *= d;
    }
    if (h.count * item != avail)
        fail(name, "the header promises " + h.describe() + " = " + std::to_string(h.count * item) +
                       " data bytes, the file holds " + std::to_string(avail) +
                       (h.count * item > avail ? " (truncated)" : " (trailing bytes)"));
    return h;
}

namespace {

template <class T>
T load_le(const std::uint8_t* p) {
    T v{};
    std::memcpy(&v, p, sizeof v);  // the host is little-endian on every target we build
    return v;
}

}  // namespace

std::vector<std::uint8_t> npy_u8(const std::uint8_t* p, std::size_t n, const NpyHeader& h, const std::string& name) {
    if (h.type != NpyType::U8)
        fail(name, "dtype " + h.describe() + ", expected uint8 (8-bit pixels; convert with arr.astype(np.uint8))");
    if (h.data_offset + h.count > n) fail(name, "truncated");
    return std::vector<std::uint8_t>(p + h.data_offset, p + h.data_offset + h.count);
}

std::vector<std::int64_t> npy_integers(const std::uint8_t* p, std::size_t n, const NpyHeader& h,
                                       const std::string& name) {
    if (!npy_is_integer(h.type)) fail(name, "dtype " + h.describe() + ", expected an integer array (labels)");
    const std::size_t item = npy_item_size(h.type);
    if (h.data_offset + h.count * item > n) fail(name, "truncated");
    std::vector<std::int64_t> out(h.count);
    const std::uint8_t* d = p + h.data_offset;
    for (std::size_t i = 0; i < h.count; ++i, d += item) {
        switch (h.type) {
            case NpyType::U8: out[i] = d[0]; break;
            case NpyType::I8: out[i] = static_cast<std::int8_t>(d[0]); break;
            case NpyType::U16: out[i] = load_le<std::uint16_t>(d); break;
            case NpyType::I16: out[i] = load_le<std::int16_t>(d); break;
            case NpyType::U32: out[i] = load_le<std::uint32_t>(d); break;
            case NpyType::I32: out[i] = load_le<std::int32_t>(d); break;
            case NpyType::I64: out[i] = load_le<std::int64_t>(d); break;
            default: {
                const auto u = load_le<std::uint64_t>(d);
                if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                    fail(name, "element " + std::to_string(i) + " = " + std::to_string(u) + " does not fit int64");
                out[i] = static_cast<std::int64_t>(u);
            }
        }
    }
    return out;
}

std::vector<float> npy_floats(const std::uint8_t* p, std::size_t n, const NpyHeader& h, const std::string& name) {
    if (h.type != NpyType::F32 && h.type != NpyType::F64)
        fail(name, "dtype " + h.describe() + ", expected float32 or float64 (features)");
    const std::size_t item = npy_item_size(h.type);
    if (h.data_offset + h.count * item > n) fail(name, "truncated");
    std::vector<float> out(h.count);
    const std::uint8_t* d = p + h.data_offset;
    for (std::size_t i = 0; i < h.count; ++i, d += item) {
        out[i] = h.type == NpyType::F32 ? load_le<float>(d) : static_cast<float>(load_le<double>(d));
        if (!std::isfinite(out[i]))
            fail(name, "element " + std::to_string(i) + " is not a finite float32 number (NaN, infinite or too large)");
    }
    return out;
}

std::vector<std::uint8_t> npy_encode(NpyType t, const std::vector<std::size_t>& shape, const void* data) {
    std::string sh = "(";
    std::size_t count = 1;
    for (std::size_t k = 0; k < shape.size(); ++k) {
        sh += (k ? ", " : "") + std::to_string(shape[k]);
        count *= shape[k];
    }
    sh += shape.size() == 1 ? ",)" : ")";
    std::string dict = std::string("{'descr': '") + npy_descr(t) + "', 'fortran_order': False, 'shape': " + sh + ", }";
    // As numpy's _wrap_header: pad with spaces so that the data starts at a multiple of 64.
    const std::size_t hlen = dict.size() + 1, pad = 64 - (10 + hlen) % 64;
    dict += std::string(pad, ' ') + "\n";
    const std::size_t bytes = count * npy_item_size(t);
    std::vector<std::uint8_t> out(10 + dict.size() + bytes);
    const std::uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(dict.size() & 0xFF),
                                  static_cast<std::uint8_t>(dict.size() >> 8)};
    std::memcpy(out.data(), pre, 10);
    std::memcpy(out.data() + 10, dict.data(), dict.size());
    if (bytes) std::memcpy(out.data() + 10 + dict.size(), data, bytes);
    return out;
}

}  // namespace bt::nn
