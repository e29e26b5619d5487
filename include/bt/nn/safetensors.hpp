// safetensors reader and writer (https://github.com/huggingface/safetensors format):
// 8-byte little-endian header length N, N bytes of JSON header, then the raw tensor bytes.
// Header: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//          "__metadata__": {"key": "value", ...}}   (offsets relative to the data section)
//
// Reading is strict; each of these throws std::runtime_error saying what was expected and
// what was found: header length beyond the file, malformed JSON, duplicate names, unknown
// dtype, shape × dtype size ≠ byte size, offsets out of range, overlapping tensors, holes
// between tensors or unused bytes at the end, non-string metadata values.
// Read dtypes: F32, F16, BF16, F64 (rounded), I64, I32, I16, I8, U8 (exact below 2^24),
// all converted to float. Written dtype: F32.
// Writing goes to a temporary file in the same directory that is renamed into place, so
// a crash never leaves a half-written file under the final name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bt::nn {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8 };
const char* dtype_name(DType t);

struct Tensor {
    std::string name;
    DType dtype = DType::F32;            // as stored in the file
    std::vector<std::size_t> shape;
    std::vector<float> data;             // converted to float32, row-major
    std::size_t numel() const;
};

struct SafeTensors {
    std::map<std::string, std::string> metadata;  // "__metadata__"
    std::vector<Tensor> tensors;                  // in file (offset) order
    // nullptr if absent.
    const Tensor* find(const std::string& name) const;
};

SafeTensors read_safetensors(const std::string& path);
// From a file image in memory; `name` is used in messages.
SafeTensors parse_safetensors(const std::vector<std::uint8_t>& bytes, const std::string& name);

// A float32 tensor to write: `data` points at numel(shape) floats.
struct TensorView {
    std::string name;
    std::vector<std::size_t> shape;
    const float* data = nullptr;
};
// Serializes to a file image (header padded with spaces to a multiple of 8 bytes).
std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorView>& tensors,
                                                const std::map<std::string, std::string>& metadata);
// Writes atomically (bt::write_file_atomic).
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata);

// IEEE half and bfloat16 to float.
float half_to_float(std::uint16_t h);
float bf16_to_float(std::uint16_t b);

}  // namespace bt::nn
