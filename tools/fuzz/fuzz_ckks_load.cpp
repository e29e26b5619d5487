// libFuzzer target for the CKKS file loaders and the bundles the two roles exchange (make
// fuzz; clang with -fsanitize=fuzzer,address). Every input must either load or throw
// std::runtime_error / std::invalid_argument: never crash, hang, read out of bounds
// (AddressSanitizer) or leak. Byte 0 selects the loader (low 7 bits) and whether the
// header's checksum is repaired first (top bit, fuzz_common.hpp); the rest is the file.
// Parameters: N10_test. Seeds: make_seeds (one per loader, both checksum modes).
#include "fuzz_common.hpp"

#include "bt/app/files.hpp"
#include "bt/app/job.hpp"
#include "bt/ckks/bootstrap.hpp"

#include <stdexcept>

using namespace bt::ckks;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ParamsPtr P = preset("N10_test");
    static const ParamsPtr E = encapsulation_params(*P, 32);
    if (size == 0) return 0;
    std::vector<std::uint8_t> bytes(data + 1, data + size);
    if (data[0] & 0x80) bytes = btfuzz::repaired(std::move(bytes));
    try {
        switch ((data[0] & 0x7f) % 10) {
            case 0: deserialize_params(bytes); break;
            case 1: deserialize_secret_key(*P, bytes); break;
            case 2: deserialize_public_key(*P, bytes); break;
            case 3: deserialize_relin_key(*P, bytes); break;
            case 4: deserialize_galois_keys(*P, bytes); break;
            case 5: deserialize_ciphertext(*P, bytes); break;
            case 6: deserialize_plaintext(*P, bytes); break;
            case 7: deserialize_encapsulation_keys(*P, *E, bytes); break;
            case 8: bt::app::Job::from(deserialize_bundle(*P, bytes), "fuzz"); break;
            default: {
                const CiphertextBundle b = deserialize_bundle(*P, bytes);
                (void)bt::app::ClientState::from(b, "fuzz", 8);
                break;
            }
        }
    } catch (const std::runtime_error&) {
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
