// DEFLATE (RFC 1951) and gzip (RFC 1952) decoding; see include/bt/nn/inflate.hpp.
//
// Huffman codes are decoded through one flat lookup table per code, indexed by the next
// `maxlen` input bits (LSB first, as DEFLATE packs codes bit-reversed). Table entries
// hold (symbol, code length); an entry with length 0 is a hole of an incomplete code and
// decoding into it is an error.
#include "bt/nn/inflate.hpp"

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("inflate: " + what); }

// The output reached its limit (a prefix was asked for, or a decompression bomb).
struct OutputLimit : std::runtime_error {
    explicit OutputLimit(std::size_t max)
        : std::runtime_error("inflate: output exceeds the limit of " + std::to_string(max) + " bytes") {}
};

// ------------------------------------------------------------------ CRC-32
std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}

// ------------------------------------------------------------------ bit reader
struct BitReader {
    const std::uint8_t* p;
    std::size_t n, pos = 0;   // next byte to load into `buf`
    std::uint64_t buf = 0;    // bits not yet consumed, LSB first
    unsigned nbits = 0;       // valid bits in buf (may include zero padding past the end)
    std::size_t pad_bits = 0; // zero bits appended past the end of input

    BitReader(const std::uint8_t* data, std::size_t size) : p(data), n(size) {}
    void refill() {
        while (nbits <= 56) {
            std::uint64_t b = 0;
            if (pos < n) b = p[pos++]; else pad_bits += 8;
            buf |= b << nbits;
            nbits += 8;
        }
    }
    std::uint32_t peek(unsigned k) {
        if (nbits < k) refill();
        return static_cast<std::uint32_t>(buf & ((std::uint64_t{1} << k) - 1));
    }
    void consume(unsigned k) {
        buf >>= k;
        nbits -= k;
        // Consumed bits reaching into the zero padding mean the input was too short.
        if (pad_bits > nbits) fail("truncated stream: input ended inside a DEFLATE block");
    }
    std::uint32_t bits(unsigned k) {
        if (k == 0) return 0;
        std::uint32_t v = peek(k);
        consume(k);
        return v;
    }
    void align_to_byte() { consume(nbits % 8); }
    // Bytes of input consumed so far (valid after align_to_byte()).
    std::size_t byte_pos() const { return pos - (nbits - pad_bits) / 8; }
};

// ------------------------------------------------------------------ Huffman tables
struct Huffman {
    std::vector<std::uint32_t> table;  // (symbol << 8) | length; length 0 = hole
    unsigned maxlen = 0;
};

Huffman build_huffman(const std::uint8_t* lengths, unsigned count, const char* which) {
    unsigned bl_count[16] = {};
    for (unsigned i = 0; i < count; ++i) bl_count[lengths[i]]++;
    bl_count[0] = 0;
    Huffman h;
    for (unsigned len = 1; len <= 15; ++len)
        if (bl_count[len]) h.maxlen = len;
    if (h.maxlen == 0) {  // no codes at all: legal for an unused distance code
        h.maxlen = 1;
        h.table.assign(2, 0);
        return h;
    }
    // Kraft check: an over-subscribed code is invalid.
    int left = 1;
    for (unsigned len = 1; len <= 15; ++len) {
        left <<= 1;
        left -= static_cast<int>(bl_count[len]);
        if (left < 0) fail(std::string("over-subscribed ") + which + " Huffman code");
    }
    unsigned next_code[16] = {};
    unsigned code = 0;
    for (unsigned len = 1; len <= 15; ++len) {
        code = (code + bl_count[len - 1]) << 1;
        next_code[len] = code;
    }
    h.table.assign(std::size_t{1} << h.maxlen, 0);
    for (unsigned sym = 0; sym < count; ++sym) {
        const unsigned len = lengths[sym];
        if (!len) continue;
        const unsigned c = next_code[len]++;
        unsigned rev = 0;  // bit-reverse the code: DEFLATE sends Huffman codes MSB first
        for (unsigned b = 0; b < len; ++b) rev |= ((c >> b) & 1u) << (len - 1 - b);
        for (std::size_t i = rev; i < h.table.size(); i += std::size_t{1} << len)
            h.table[i] = (sym << 8) | len;
    }
    return h;
}

unsigned decode_symbol(BitReader& br, const Huffman& h, const char* which) {
    const std::uint32_t e = h.table[br.peek(h.maxlen)];
    const unsigned len = e & 0xFF;
    if (len == 0) fail(std::string("invalid ") + which + " Huffman code in the stream");
    br.consume(len);
    return e >> 8;
}

// ------------------------------------------------------------------ DEFLATE tables
constexpr std::uint16_t kLenBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                        31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::uint8_t kLenExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                        2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::uint16_t kDistBase[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,
                                         33,  49,  65,  97,  129, 193,  257,  385,  513,  769,
                                         1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
constexpr std::uint8_t kCodeLenOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

void inflate_stored(BitReader& br, std::vector<std::uint8_t>& out, std::size_t max_out) {
    br.align_to_byte();
    const std::uint32_t len = br.bits(16);
    const std::uint32_t nlen = br.bits(16);
    if ((len ^ 0xFFFFu) != nlen)
        fail("stored block length check failed: LEN " + std::to_string(len) + ", NLEN " + std::to_string(nlen) +
             " (expected the one's complement of LEN)");
    for (std::uint32_t i = 0; i < len; ++i) {
        if (out.size() >= max_out) throw OutputLimit(max_out);
        out.push_back(static_cast<std::uint8_t>(br.bits(8)));
    }
}

void inflate_codes(BitReader& br, std::vector<std::uint8_t>& out, const Huffman& lit, const Huffman& dist,
                   std::size_t max_out) {
    for (;;) {
        const unsigned sym = decode_symbol(br, lit, "literal/length");
        if (sym < 256) {
            if (out.size() >= max_out) throw OutputLimit(max_out);
            out.push_back(static_cast<std::uint8_t>(sym));
            continue;
        }
        if (sym == 256) return;
        if (sym > 285) fail("invalid length symbol " + std::to_string(sym) + " (expected 257..285)");
        const unsigned li = sym - 257;
        const std::size_t len = kLenBase[li] + br.bits(kLenExtra[li]);
        const unsigned dsym = decode_symbol(br, dist, "distance");
        if (dsym > 29) fail("invalid distance symbol " + std::to_string(dsym) + " (expected 0..29)");
        const std::size_t d = kDistBase[dsym] + br.bits(kDistExtra[dsym]);
        if (d > out.size())
            fail("distance " + std::to_string(d) + " reaches before the start of the output (" +
                 std::to_string(out.size()) + " bytes so far)");
        const std::size_t from = out.size() - d;
        for (std::size_t i = 0; i < len; ++i) {
            if (out.size() >= max_out) throw OutputLimit(max_out);
            out.push_back(out[from + i]);
        }
    }
}

void inflate_dynamic(BitReader& br, std::vector<std::uint8_t>& out, std::size_t max_out) {
    const unsigned hlit = br.bits(5) + 257, hdist = br.bits(5) + 1, hclen = br.bits(4) + 4;
    if (hlit > 286 || hdist > 30)
        fail("dynamic block declares " + std::to_string(hlit) + " literal/length and " + std::to_string(hdist) +
             " distance codes (at most 286 and 30)");
    std::uint8_t cl_len[19] = {};
    for (unsigned i = 0; i < hclen; ++i) cl_len[kCodeLenOrder[i]] = static_cast<std::uint8_t>(br.bits(3));
    const Huffman cl = build_huffman(cl_len, 19, "code-length");
    std::uint8_t lengths[286 + 30] = {};
    unsigned i = 0;
    while (i < hlit + hdist) {
        const unsigned sym = decode_symbol(br, cl, "code-length");
        if (sym < 16) { lengths[i++] = static_cast<std::uint8_t>(sym); continue; }
        unsigned rep = 0;
        std::uint8_t val = 0;
        if (sym == 16) {
            if (i == 0) fail("code-length repeat (16) with no previous length");
            val = lengths[i - 1];
            rep = 3 + br.bits(2);
        } else if (sym == 17) {
            rep = 3 + br.bits(3);
        } else {
            rep = 11 + br.bits(7);
        }
        if (i + rep > hlit + hdist)
            fail("code-length repeat runs past the " + std::to_string(hlit + hdist) + " declared lengths");
        while (rep--) lengths[i++] = val;
    }
    if (lengths[256] == 0) fail("dynamic block has no end-of-block code (symbol 256 has length 0)");
    const Huffman lit = build_huffman(lengths, hlit, "literal/length");
    const Huffman dist = build_huffman(lengths + hlit, hdist, "distance");
    inflate_codes(br, out, lit, dist, max_out);
}

const Huffman& fixed_lit() {
    static const Huffman h = [] {
        std::uint8_t l[288];
        for (unsigned i = 0; i < 288; ++i) l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
        return build_huffman(l, 288, "fixed literal/length");
    }();
    return h;
}
const Huffman& fixed_dist() {
    static const Huffman h = [] {
        std::uint8_t l[30];
        for (auto& x : l) x = 5;
        return build_huffman(l, 30, "fixed distance");
    }();
    return h;
}

std::uint32_t load_le32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

}  // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc) {
    static const std::array<std::uint32_t, 256> table = make_crc_table();
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

namespace {

void inflate_into(BitReader& br, std::vector<std::uint8_t>& out, std::size_t max_out) {
    for (;;) {
        const std::uint32_t final_block = br.bits(1);
        const std::uint32_t type = br.bits(2);
        if (type == 0) inflate_stored(br, out, max_out);
        else if (type == 1) inflate_codes(br, out, fixed_lit(), fixed_dist(), max_out);
        else if (type == 2) inflate_dynamic(br, out, max_out);
        else fail("reserved block type 3 (expected 0 stored, 1 fixed or 2 dynamic)");
        if (final_block) break;
    }
}

}  // namespace

std::vector<std::uint8_t> inflate_raw(const std::uint8_t* data, std::size_t n, std::size_t* consumed,
                                      std::size_t max_out) {
    BitReader br(data, n);
    std::vector<std::uint8_t> out;
    inflate_into(br, out, max_out);
    br.align_to_byte();
    if (consumed) *consumed = br.byte_pos();
    return out;
}

std::size_t gzip_max_output(std::size_t n) {
    const std::size_t cap = std::size_t{1} << 34;  // 16 GiB: far above any data set we read
    return n > (cap - 64) / 1032 ? cap : 1032 * n + 64;
}

bool is_gzip(const std::uint8_t* data, std::size_t n) { return n >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

namespace {

// The length of a gzip member's header (RFC 1952 section 2.3), checked.
std::size_t gzip_header(const std::uint8_t* p, std::size_t left) {
    if (left < 18) fail("gzip: truncated member: " + std::to_string(left) + " bytes, a member has at least 18");
    if (!is_gzip(p, left)) fail("gzip: bad magic bytes (expected 1f 8b)");
    if (p[2] != 8) fail("gzip: compression method " + std::to_string(p[2]) + " (expected 8, deflate)");
    const std::uint8_t flg = p[3];
    if (flg & 0xE0) fail("gzip: reserved header flag bits set");
    std::size_t h = 10;
    auto need = [&](std::size_t k) {
        if (h + k > left) fail("gzip: header truncated");
    };
    if (flg & 4) {  // FEXTRA
        need(2);
        const std::size_t xlen = std::size_t{p[h]} | std::size_t{p[h + 1]} << 8;
        need(2 + xlen);
        h += 2 + xlen;
    }
    for (int bit : {8, 16}) {  // FNAME, FCOMMENT: zero-terminated
        if (!(flg & bit)) continue;
        while (h < left && p[h] != 0) ++h;
        need(1);
        ++h;
    }
    if (flg & 2) {  // FHCRC
        need(2);
        const std::uint32_t want = std::uint32_t{p[h]} | std::uint32_t{p[h + 1]} << 8;
        if ((crc32(p, h) & 0xFFFF) != want) fail("gzip: header CRC-16 mismatch");
        h += 2;
    }
    return h;
}

}  // namespace

std::vector<std::uint8_t> gunzip(const std::uint8_t* data, std::size_t n, std::size_t max_out) {
    if (max_out == 0) max_out = gzip_max_output(n);
    std::vector<std::uint8_t> all;
    std::size_t pos = 0;
    do {
        const std::uint8_t* p = data + pos;
        const std::size_t left = n - pos;
        const std::size_t h = gzip_header(p, left);
        std::size_t used = 0;
        std::vector<std::uint8_t> out;
        try {
            out = inflate_raw(p + h, left - h, &used, max_out - all.size());
        } catch (const OutputLimit&) {
            fail("gzip: decompresses to more than the " + std::to_string(max_out) +
                 " bytes allowed (the format's header or the file's size): a corrupt or malicious file");
        }
        if (h + used + 8 > left)
            fail("gzip: truncated trailer (expected 8 bytes of CRC-32 and ISIZE after the data)");
        const std::uint32_t want_crc = load_le32(p + h + used);
        const std::uint32_t want_size = load_le32(p + h + used + 4);
        const std::uint32_t got_crc = crc32(out.data(), out.size());
        if (got_crc != want_crc) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "gzip: CRC-32 mismatch: trailer says %08x, data gives %08x", want_crc, got_crc);
            fail(buf);
        }
        if (static_cast<std::uint32_t>(out.size()) != want_size)
            fail("gzip: ISIZE mismatch: trailer says " + std::to_string(want_size) + " bytes, decoded " +
                 std::to_string(out.size()));
        all.insert(all.end(), out.begin(), out.end());
        pos += h + used + 8;
        // Trailing zero padding after the last member is tolerated (some tools add it).
        while (pos < n && data[pos] == 0) ++pos;
    } while (pos < n);
    return all;
}

std::vector<std::uint8_t> gunzip_prefix(const std::uint8_t* data, std::size_t n, std::size_t k) {
    const std::size_t h = gzip_header(data, n);
    BitReader br(data + h, n - h);
    std::vector<std::uint8_t> out;
    try {
        inflate_into(br, out, k);
    } catch (const OutputLimit&) {
        // k bytes decoded: the rest of the stream is not looked at.
    }
    return out;
}

}  // namespace bt::nn
