// libFuzzer target for the .npy and ZIP/.npz loaders (make fuzz; clang with -fsanitize=fuzzer).
// Every input must either load or throw std::runtime_error: never crash, hang, read out of
// bounds (AddressSanitizer), leak, or allocate beyond what its header and size allow.
// The first input byte picks the loader; the rest is the file.
#include "bt/nn/npy.hpp"
#include "bt/nn/zip.hpp"

#include <cstdint>
#include <stdexcept>
#include <vector>

using namespace bt::nn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t* p = data + 1;
    const std::size_t n = size - 1;
    try {
        if (data[0] % 2 == 0) {  // one .npy file, read as each element type
            const NpyHeader h = parse_npy_header(p, n, "fuzz.npy");
            try { (void)npy_u8(p, n, h, "fuzz.npy"); } catch (const std::runtime_error&) {}
            try { (void)npy_integers(p, n, h, "fuzz.npy"); } catch (const std::runtime_error&) {}
            (void)npy_floats(p, n, h, "fuzz.npy");
        } else {  // an archive: every member extracted and parsed as .npy
            const Npz z(std::vector<std::uint8_t>(p, p + n), "fuzz.npz");
            for (const ZipEntry& e : zip_entries(p, n, "fuzz.npz")) {
                try {
                    const std::vector<std::uint8_t> m = zip_extract(p, n, e, "fuzz.npz");
                    (void)parse_npy_header(m.data(), m.size(), e.name);
                } catch (const std::runtime_error&) {
                }
            }
            (void)z.member("train_images");
        }
    } catch (const std::runtime_error&) {
    }
    return 0;
}
