// ZIP archives (PKWARE APPNOTE 6.3), read strictly, as NumPy's .npz files use them: entries
// stored (method 0) or deflated (method 8, decoded by bt/nn/inflate.hpp), ZIP64 extra
// fields and the ZIP64 end of central directory (np.savez forces ZIP64 on every entry).
// A MedMNIST-style .npz is such an archive of .npy files (read_npz).
//
// Every size comes from the central directory and is checked against the file before
// anything is allocated: entries must lie inside the file and not overlap the directory,
// each local header must agree with its central entry, a stored entry's size equals its
// compressed size and a deflated one's is at most what DEFLATE can produce from it
// (about 1032 times the compressed size). Extraction refuses an entry that inflates to
// more or fewer bytes than its stated size, and a CRC-32 mismatch. Encrypted, multi-disk
// and other compression methods are refused. Errors are std::runtime_error naming the
// file and the entry, what was expected and what was found.
#pragma once

#include "bt/nn/npy.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bt::nn {

struct ZipEntry {
    std::string name;
    unsigned method = 0;           // 0 stored, 8 deflated
    std::uint64_t compressed = 0;  // bytes in the archive
    std::uint64_t size = 0;        // bytes once extracted
    std::uint32_t crc = 0;
    std::uint64_t data_offset = 0; // of the entry's data in the archive
};

// The entries of an archive image of n bytes (central directory order).
std::vector<ZipEntry> zip_entries(const std::uint8_t* p, std::size_t n, const std::string& name);
// One entry's bytes, checked (size, CRC-32).
std::vector<std::uint8_t> zip_extract(const std::uint8_t* p, std::size_t n, const ZipEntry& e,
                                      const std::string& name);

// A stored (uncompressed) archive of the given entries, as np.savez writes it (without
// ZIP64 fields: each entry and the archive below 4 GiB).
std::vector<std::uint8_t> zip_store(const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& entries);

// ---------------------------------------------------------------- .npz
// An archive of .npy files read into memory and indexed; arrays are parsed on demand.
class Npz {
public:
    Npz(std::vector<std::uint8_t> file, std::string name);
    static Npz read(const std::string& path);
    // True if the archive holds KEY.npy.
    bool has(const std::string& key) const;
    // The .npy file image of KEY.npy (std::runtime_error naming the keys present if absent).
    std::vector<std::uint8_t> member(const std::string& key) const;
    std::string keys() const;  // "train_images, train_labels, ..."
    const std::string& name() const { return name_; }

private:
    const ZipEntry* find(const std::string& key) const;
    std::vector<std::uint8_t> file_;
    std::string name_;
    std::vector<ZipEntry> entries_;
};

}  // namespace bt::nn
