// NumPy .npy arrays (format versions 1.0, 2.0 and 3.0), read strictly, and written in
// the layout np.save writes.
//
// A file is the magic "\x93NUMPY", a major and a minor version byte, the header length
// (2 bytes little-endian in version 1, 4 bytes in versions 2 and 3), a header that is a
// Python dict literal with exactly the keys 'descr', 'fortran_order' and 'shape', padded
// with spaces and ended by a newline, then the raw data in C order. Accepted: dtypes
// |u1 |i1 |b1 <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8 (little-endian), fortran_order False, up to
// 8 dimensions. Everything else is refused with std::runtime_error naming the file, what
// was expected and what was found: another magic or version, a header longer than 64 KiB
// or the file, a malformed dict, unknown or missing keys, big-endian, object or structured
// dtypes, Fortran order, and a data size (overflow-checked product of the shape times the
// item size) other than what the file holds after the header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bt::nn {

enum class NpyType { U8, I8, Bool, U16, I16, U32, I32, U64, I64, F32, F64 };
const char* npy_descr(NpyType t);  // "|u1", "<f4", ...
std::size_t npy_item_size(NpyType t);
bool npy_is_integer(NpyType t);    // the integer types (bool is not one)

struct NpyHeader {
    NpyType type = NpyType::U8;
    std::vector<std::size_t> shape;  // empty: a scalar
    std::size_t count = 1;           // elements (product of the shape)
    std::size_t data_offset = 0;     // where the data starts in the file
    std::string describe() const;    // "uint8 [10, 28, 28]"
};

// Parses and checks the header of a .npy file image of n bytes (the data size must be
// exactly n − data_offset).
NpyHeader parse_npy_header(const std::uint8_t* p, std::size_t n, const std::string& name);

// The data of a checked .npy file image as the requested element type. std::runtime_error
// names the file and the dtype found if it cannot be converted exactly:
//   npy_u8:       dtype uint8 only;
//   npy_integers: any integer dtype (uint64 values above 2^63 − 1 refused);
//   npy_floats:   float32, or float64 rounded to float32 (non-finite values refused).
std::vector<std::uint8_t> npy_u8(const std::uint8_t* p, std::size_t n, const NpyHeader& h, const std::string& name);
std::vector<std::int64_t> npy_integers(const std::uint8_t* p, std::size_t n, const NpyHeader& h,
                                       const std::string& name);
std::vector<float> npy_floats(const std::uint8_t* p, std::size_t n, const NpyHeader& h, const std::string& name);

// A .npy file image (version 1.0, header padded to a multiple of 64 bytes, as np.save
// writes it); `data` holds product(shape) little-endian items of `t`.
std::vector<std::uint8_t> npy_encode(NpyType t, const std::vector<std::size_t>& shape, const void* data);

}  // namespace bt::nn
