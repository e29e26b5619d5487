// safetensors reader/writer; see include/bt/nn/safetensors.hpp.
#include "bt/nn/safetensors.hpp"

#include "bt/json.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error("safetensors " + name + ": " + what);
}

// ------------------------------------------------------------------ a tiny JSON subset
// Values in a safetensors header are objects, arrays, strings and non-negative integers.
struct Json {
    enum Kind { Object, Array, String, Number } kind = Number;
    std::string str;
    std::uint64_t num = 0;
    std::vector<std::pair<std::string, Json>> obj;
    std::vector<Json> arr;
};

struct JsonParser {
    const std::string& s;
    const std::string& name;
    std::size_t i = 0;

    [[noreturn]] void error(const std::string& what) {
        fail(name, "header JSON: " + what + " at byte " + std::to_string(i));
    }
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
    }
    void expect(char c) {
        ws();
        if (i >= s.size() || s[i] != c) error(std::string("expected '") + c + "'");
        ++i;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (true) {
            if (i >= s.size()) error("unterminated string");
            char c = s[i++];
            if (c == '"') break;
            if (c == '\\') {
                if (i >= s.size()) error("unterminated escape");
                char e = s[i++];
                switch (e) {
                    case '"': out += '"'; break;
                    case '\\': out += '\\'; break;
                    case '/': out += '/'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'n': out += '\n'; break;
                    case 'r': out += '\r'; break;
                    case 't': out += '\t'; break;
                    case 'u': {
                        if (i + 4 > s.size()) error("short \\u escape");
                        unsigned cp = static_cast<unsigned>(std::stoul(s.substr(i, 4), nullptr, 16));
                        i += 4;
                        if (cp < 0x80) {
                            out += static_cast<char>(cp);
                        } else if (cp < 0x800) {
                            out += static_cast<char>(0xC0 | (cp >> 6));
                            out += static_cast<char>(0x80 | (cp & 0x3F));
                        } else {
                            out += static_cast<char>(0xE0 | (cp >> 12));
                            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                            out += static_cast<char>(0x80 | (cp & 0x3F));
                        }
                        break;
                    }
                    default: error("bad escape");
                }
            } else {
                out += c;
            }
        }
        return out;
    }
    Json value(int depth) {
        if (depth > 8) error("nesting too deep");
        ws();
        if (i >= s.size()) error("unexpected end");
        Json v;
        const char c = s[i];
        if (c == '{') {
            v.kind = Json::Object;
            ++i;
            ws();
            if (i < s.size() && s[i] == '}') { ++i; return v; }
            while (true) {
                std::string k = string();
                expect(':');
                v.obj.emplace_back(std::move(k), value(depth + 1));
                ws();
                if (i < s.size() && s[i] == ',') { ++i; continue; }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.kind = Json::Array;
            ++i;
            ws();
            if (i < s.size() && s[i] == ']') { ++i; return v; }
            while (true) {
                v.arr.push_back(value(depth + 1));
                ws();
                if (i < s.size() && s[i] == ',') { ++i; continue; }
                expect(']');
                return v;
            }
        }
        if (c == '"') {
            v.kind = Json::String;
            v.str = string();
            return v;
        }
        if (c >= '0' && c <= '9') {
            v.kind = Json::Number;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
                const std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
                if (v.num > (UINT64_MAX - d) / 10) error("integer too large");
                v.num = v.num * 10 + d;
                ++i;
            }
            return v;
        }
        error(std::string("unexpected character '") + c + "' (only objects, arrays, strings, non-negative integers)");
    }
};

std::size_t dtype_size(DType t) {
    switch (t) {
        case DType::F64: case DType::I64: return 8;
        case DType::F32: case DType::I32: return 4;
        case DType::F16: case DType::BF16: case DType::I16: return 2;
        case DType::I8: case DType::U8: return 1;
    }
    return 1;
}

std::uint64_t load_le(const std::uint8_t* p, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < bytes; ++k) v |= std::uint64_t{p[k]} << (8 * k);
    return v;
}

// One stored element as float (integers exact below 2^24, F64 rounded).
float element(DType t, const std::uint8_t* p) {
    const std::uint64_t u = load_le(p, dtype_size(t));
    switch (t) {
        case DType::F32: {
            float f;
            const auto w = static_cast<std::uint32_t>(u);
            std::memcpy(&f, &w, 4);
            return f;
        }
        case DType::F64: {
            double d;
            std::memcpy(&d, &u, 8);
            return static_cast<float>(d);
        }
        case DType::F16: return half_to_float(static_cast<std::uint16_t>(u));
        case DType::BF16: return bf16_to_float(static_cast<std::uint16_t>(u));
        case DType::I64: return static_cast<float>(static_cast<std::int64_t>(u));
        case DType::I32: return static_cast<float>(static_cast<std::int32_t>(static_cast<std::uint32_t>(u)));
        case DType::I16: return static_cast<float>(static_cast<std::int16_t>(static_cast<std::uint16_t>(u)));
        case DType::I8: return static_cast<float>(static_cast<std::int8_t>(static_cast<std::uint8_t>(u)));
        case DType::U8: return static_cast<float>(u);
    }
    return 0;
}

std::string shape_str(const std::vector<std::size_t>& s) {
    std::string o = "[";
    for (std::size_t k = 0; k < s.size(); ++k) o += (k ? ", " : "") + std::to_string(s[k]);
    return o + "]";
}

}  // namespace

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::F64: return "F64";
        case DType::I64: return "I64";
        case DType::I32: return "I32";
        case DType::I16: return "I16";
        case DType::I8: return "I8";
        case DType::U8: return "U8";
    }
    return "?";
}

std::size_t Tensor::numel() const {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
}

const Tensor* SafeTensors::find(const std::string& name) const {
    for (const Tensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalize
            exp = 127 - 15 + 1;
            while (!(man & 0x400u)) { man <<= 1; --exp; }
            man &= 0x3FFu;
            bits = sign | exp << 23 | man << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bf16_to_float(std::uint16_t b) {
    const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// One tensor entry of the header: dtype, shape and data offsets checked against the data
// section (its bytes are converted later, in offset order).
Tensor tensor_entry(const std::string& key, const Json& v, std::size_t data_size, const std::string& name,
                    std::uint64_t& b, std::uint64_t& e) {
    if (v.kind != Json::Object) fail(name, "entry \"" + key + "\" is not an object");
    const Json *dt = nullptr, *shape = nullptr, *offs = nullptr;
    for (auto& [fk, fv] : v.obj) {
        if (fk == "dtype") dt = &fv;
        else if (fk == "shape") shape = &fv;
        else if (fk == "data_offsets") offs = &fv;
        else fail(name, "tensor \"" + key + "\": unknown field \"" + fk + "\"");
    }
    if (!dt || dt->kind != Json::String || !shape || shape->kind != Json::Array || !offs ||
        offs->kind != Json::Array || offs->arr.size() != 2)
        fail(name, "tensor \"" + key + "\": needs \"dtype\" (string), \"shape\" (array), \"data_offsets\" ([begin, end])");
    Tensor t;
    t.name = key;
    bool known = false;
    for (DType d : {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64, DType::I32, DType::I16, DType::I8,
                    DType::U8})
        if (dt->str == dtype_name(d)) {
            t.dtype = d;
            known = true;
        }
    if (!known)
        fail(name, "tensor \"" + key + "\": dtype " + dt->str + " not supported (F32, F16, BF16, F64, I64, I32, I16, I8, U8)");
    std::size_t numel = 1;
    for (const Json& d : shape->arr) {
        if (d.kind != Json::Number) fail(name, "tensor \"" + key + "\": shape entries must be integers");
        if (d.num > (1ull << 40)) fail(name, "tensor \"" + key + "\": dimension too large");
        t.shape.push_back(static_cast<std::size_t>(d.num));
        // Checked before multiplying: a product of large dimensions must not wrap around.
        if (t.shape.back() != 0 && numel > (std::size_t{1} << 40) / t.shape.back())
            fail(name, "tensor \"" + key + "\": too many elements (shape " + shape_str(t.shape) + ")");
        numel *= t.shape.back();
    }
    if (offs->arr[0].kind != Json::Number || offs->arr[1].kind != Json::Number)
        fail(name, "tensor \"" + key + "\": data_offsets must be integers");
    b = offs->arr[0].num;
    e = offs->arr[1].num;
    if (b > e || e > data_size)
        fail(name, "tensor \"" + key + "\": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                       "] out of range for a data section of " + std::to_string(data_size) + " bytes");
    const std::size_t want = numel * dtype_size(t.dtype);
    if (e - b != want)
        fail(name, "tensor \"" + key + "\": " + dt->str + " " + shape_str(t.shape) + " needs " +
                       std::to_string(want) + " bytes, data_offsets give " + std::to_string(e - b));
    return t;
}

SafeTensors parse_safetensors(const std::vector<std::uint8_t>& bytes, const std::string& name) {
    if (bytes.size() < 8) fail(name, "file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
    std::uint64_t hlen = 0;
    for (int k = 7; k >= 0; --k) hlen = hlen << 8 | bytes[static_cast<std::size_t>(k)];
    if (hlen > bytes.size() - 8)
        fail(name, "header length " + std::to_string(hlen) + " exceeds the " + std::to_string(bytes.size() - 8) +
                       " bytes after the length field (truncated or not a safetensors file)");
    const std::string header(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(hlen));
    JsonParser jp{header, name};
    Json root = jp.value(0);
    jp.ws();
    if (jp.i != header.size()) jp.error("trailing characters after the header object");
    if (root.kind != Json::Object) fail(name, "header is not a JSON object");
    const std::size_t data_start = 8 + static_cast<std::size_t>(hlen);
    const std::size_t data_size = bytes.size() - data_start;

    SafeTensors st;
    struct Span { std::size_t begin, end; std::size_t idx; };
    std::vector<Span> spans;
    std::vector<std::string> seen;
    for (auto& [key, v] : root.obj) {
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) fail(name, "duplicate entry \"" + key + "\"");
        seen.push_back(key);
        if (key == "__metadata__") {
            if (v.kind != Json::Object) fail(name, "__metadata__ is not an object");
            for (auto& [mk, mv] : v.obj) {
                if (mv.kind != Json::String) fail(name, "__metadata__ value for \"" + mk + "\" is not a string");
                st.metadata[mk] = mv.str;
            }
            continue;
        }
        std::uint64_t b = 0, e = 0;
        Tensor t = tensor_entry(key, v, data_size, name, b, e);
        spans.push_back({static_cast<std::size_t>(b), static_cast<std::size_t>(e), st.tensors.size()});
        st.tensors.push_back(std::move(t));
    }
    std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
        return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
    });
    std::size_t at = 0;
    for (const Span& s : spans) {
        const std::string& tn = st.tensors[s.idx].name;
        if (s.begin < at) fail(name, "tensor \"" + tn + "\" at byte " + std::to_string(s.begin) + " overlaps the previous tensor (ends at " + std::to_string(at) + ")");
        if (s.begin > at) fail(name, "hole of " + std::to_string(s.begin - at) + " bytes before tensor \"" + tn + "\" at byte " + std::to_string(at));
        at = s.end;
    }
    if (at != data_size)
        fail(name, "tensors cover " + std::to_string(at) + " bytes of a " + std::to_string(data_size) +
                       "-byte data section (unused bytes at the end)");
    // Convert in offset order.
    std::vector<Tensor> ordered;
    for (const Span& s : spans) {
        Tensor& t = st.tensors[s.idx];
        const std::uint8_t* p = bytes.data() + data_start + s.begin;
        const std::size_t n = t.numel();
        t.data.resize(n);
        const std::size_t item = dtype_size(t.dtype);
        for (std::size_t k = 0; k < n; ++k) t.data[k] = element(t.dtype, p + item * k);
        ordered.push_back(std::move(t));
    }
    st.tensors = std::move(ordered);
    return st;
}

SafeTensors read_safetensors(const std::string& path) { return parse_safetensors(bt::read_file(path), path); }

std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorView>& tensors,
                                                const std::map<std::string, std::string>& metadata) {
    std::string h = "{";
    bool first = true;
    if (!metadata.empty()) {
        h += "\"__metadata__\":{";
        for (auto it = metadata.begin(); it != metadata.end(); ++it)
            h += (it == metadata.begin() ? "" : ",") + bt::json_string(it->first) + ":" + bt::json_string(it->second);
        h += "}";
        first = false;
    }
    std::size_t off = 0;
    for (const TensorView& t : tensors) {
        if (t.name == "__metadata__" || t.name.empty()) throw std::invalid_argument("safetensors: bad tensor name");
        std::size_t n = 1;
        for (std::size_t d : t.shape) n *= d;
        h += (first ? "" : ",") + bt::json_string(t.name) + ":{\"dtype\":\"F32\",\"shape\":[";
        for (std::size_t k = 0; k < t.shape.size(); ++k) h += (k ? "," : "") + std::to_string(t.shape[k]);
        h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + 4 * n) + "]}";
        off += 4 * n;
        first = false;
    }
    h += "}";
    while (h.size() % 8) h += ' ';
    std::vector<std::uint8_t> out(8 + h.size() + off);
    std::uint64_t hl = h.size();
    for (int k = 0; k < 8; ++k) out[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(hl >> (8 * k));
    std::memcpy(out.data() + 8, h.data(), h.size());
    std::uint8_t* p = out.data() + 8 + h.size();
    for (const TensorView& t : tensors) {
        std::size_t n = 1;
        for (std::size_t d : t.shape) n *= d;
        for (std::size_t k = 0; k < n; ++k) {
            std::uint32_t u;
            std::memcpy(&u, t.data + k, 4);
            for (int b = 0; b < 4; ++b) *p++ = static_cast<std::uint8_t>(u >> (8 * b));
        }
    }
    return out;
}

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    bt::write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace bt::nn
