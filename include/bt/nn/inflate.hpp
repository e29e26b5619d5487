// Our own DEFLATE decoder (RFC 1951) and gzip container reader (RFC 1952), so the IDX
// files Debian ships as .gz load with no manual step and no zlib.
//
// Every malformed input throws std::runtime_error with a message that says what was
// expected and what was found (bad magic, unknown method, reserved block type, invalid
// Huffman code, distance beyond the output, truncated stream, CRC-32 or ISIZE mismatch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bt::nn {

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as gzip uses it.
std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0);

// Decodes a raw DEFLATE stream (stored, fixed and dynamic Huffman blocks). `consumed`,
// if given, receives the number of input bytes used (the stream ends on a byte boundary).
// `max_out` bounds the output (a guard against decompression bombs).
std::vector<std::uint8_t> inflate_raw(const std::uint8_t* data, std::size_t n, std::size_t* consumed = nullptr,
                                      std::size_t max_out = std::size_t{1} << 31);

// Decodes a gzip file image: header (FEXTRA, FNAME, FCOMMENT, FHCRC handled), DEFLATE
// body, then CRC-32 and ISIZE checked. Concatenated members are decoded in turn. The
// output, all members together, is refused beyond `max_out` bytes (0: gzip_max_output(n)).
std::vector<std::uint8_t> gunzip(const std::uint8_t* data, std::size_t n, std::size_t max_out = 0);
// The most that n bytes of gzip can legitimately decompress to: DEFLATE codes at most 258
// bytes in 2 bits (a ratio of about 1032), capped at 16 GiB.
std::size_t gzip_max_output(std::size_t n);
// The first k bytes of the first member's data (fewer if it is shorter), decoding no
// further: a format's header read before deciding how much to decompress. No CRC check.
std::vector<std::uint8_t> gunzip_prefix(const std::uint8_t* data, std::size_t n, std::size_t k);

// True if the buffer starts with the gzip magic bytes 1f 8b.
bool is_gzip(const std::uint8_t* data, std::size_t n);

}  // namespace bt::nn
