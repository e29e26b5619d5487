// libFuzzer target for the CKKS file loaders (make fuzz; clang with -fsanitize=fuzzer).
// Every input must either load or throw std::runtime_error / std::invalid_argument:
// never crash, hang, read out of bounds (AddressSanitizer) or leak.
// The first input byte picks the loader; the rest is the file. Parameters: N10_test.
#include "bt/ckks/serialize.hpp"

#include <cstdint>
#include <stdexcept>
#include <vector>

using namespace bt::ckks;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ParamsPtr P = preset("N10_test");
    if (size == 0) return 0;
    const std::vector<std::uint8_t> bytes(data + 1, data + size);
    try {
        switch (data[0] % 7) {
            case 0: deserialize_params(bytes); break;
            case 1: deserialize_secret_key(*P, bytes); break;
            case 2: deserialize_public_key(*P, bytes); break;
            case 3: deserialize_relin_key(*P, bytes); break;
            case 4: deserialize_galois_keys(*P, bytes); break;
            case 5: deserialize_ciphertext(*P, bytes); break;
            default: deserialize_plaintext(*P, bytes); break;
        }
    } catch (const std::runtime_error&) {
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
