// Encrypted data sets, in memory or on disk, read one batch at a time.
//
// A set is a sequence of batches; a batch is `blocks` feature ciphertexts at the plan's
// feature level (and, for training, one label ciphertext). The server walks a set through
// a BatchSource: MemorySet holds every batch (small sets; the engine may then cache the
// rotations of X between epochs), FileSet reads each batch from a set file when it is
// needed and loads the next one on a second thread while the current one is computed, so
// the data's memory is O(one batch) whatever the size of the set.
//
// Set file (what `encrypt` writes, and the one-process run's spill file):
//   "BTSET\0\1\0"                    magic and format version (8 bytes)
//   u64 n, then n bytes              the header: a ciphertext bundle without ciphertexts
//                                    (kind, job and data ids, d, classes, slots, blocks,
//                                    batches, labels)
//   one bundle per batch             its ciphertexts (seed-compressed) and "batch", "rows";
//                                    each with its own checksum (bt/ckks/serialize.hpp)
//   index                            per batch: u64 offset, u64 length; then u64 batches,
//                                    u64 checksum of the index, "BTSETEND"
// All integers little-endian. A reader checks the header against its own plan, the index
// against the file's size and the header, and each batch against the plan when it reads
// it (levels, slots, parts, rows); every length is bounded by what the plan allows before
// anything is allocated. Written to a temporary name and renamed into place when complete.
#pragma once

#include "bt/app/client.hpp"
#include "bt/app/job.hpp"
#include "bt/os.hpp"

#include <future>
#include <memory>
#include <string>
#include <vector>

namespace bt::app {

using CkksBatch = train::BatchData<train::CkksBackend>;

class BatchSource {
public:
    virtual ~BatchSource() = default;
    virtual const std::string& kind() const = 0;
    virtual std::uint64_t data_id() const = 0;
    virtual std::size_t batches() const = 0;
    virtual std::size_t rows() const = 0;
    virtual std::size_t batch_rows(std::size_t k) const = 0;  // rows of batch k (without reading it)
    // Batch k; the reference stays valid until the next call on this source. `next`: the
    // batch this reader wants after it (read ahead while k is computed; kNone: nothing).
    static constexpr std::size_t kNone = SIZE_MAX;
    virtual const CkksBatch& get(std::size_t k, std::size_t next) = 0;
    const CkksBatch& get(std::size_t k) { return get(k, batches() ? (k + 1) % batches() : kNone); }
    // Batches that stay in memory (the engine may cache their rotations), or null.
    virtual std::vector<CkksBatch>* resident() { return nullptr; }
};

// Every batch in memory.
class MemorySet : public BatchSource {
public:
    explicit MemorySet(EncSet s) : s_(std::move(s)) {}
    const std::string& kind() const override { return s_.kind; }
    std::uint64_t data_id() const override { return s_.data_id; }
    std::size_t batches() const override { return s_.batches.size(); }
    std::size_t rows() const override { return s_.rows(); }
    std::size_t batch_rows(std::size_t k) const override { return s_.batches.at(k).total_rows; }
    using BatchSource::get;
    // Throws std::logic_error for a batch another rank holds (see FileSet::load_all).
    const CkksBatch& get(std::size_t k, std::size_t) override;
    std::vector<CkksBatch>* resident() override { return &s_.batches; }
    const EncSet& set() const { return s_; }

private:
    EncSet s_;
};

// Writes a set file batch by batch (memory: one batch).
class SetWriter {
public:
    SetWriter(const std::string& path, const ckks::Params& P, const Job& job, const Plan& plan,
              const std::string& kind, std::uint64_t data_id, bool labels, std::size_t batches);
    ~SetWriter();  // removes the temporary file if finish() was not reached
    void add(const CkksBatch& b, const std::vector<Seed>& seeds);
    void finish();  // the index, fsync, rename into place
    const std::string& path() const { return path_; }

private:
    struct Entry {
        std::uint64_t offset, length, rows;
    };
    void put(const std::vector<std::uint8_t>& bytes);
    std::string path_;
    const ckks::Params& P_;
    std::size_t expected_, added_ = 0;
    bool labels_;
    std::unique_ptr<AtomicFile> file_;
    std::uint64_t at_ = 0;
    std::vector<Entry> index_;
};

// Reads a set file a batch at a time, with read-ahead of the next batch.
class FileSet : public BatchSource {
public:
    // Opens and checks header and index against the plan (std::runtime_error naming the
    // file; UsageError if it is missing or of another kind or job).
    FileSet(const ckks::Params& P, const std::string& path, const std::string& kind, const Job& job, const Plan& plan,
            bool with_labels);
    ~FileSet() override;
    const std::string& kind() const override { return kind_; }
    std::uint64_t data_id() const override { return data_id_; }
    std::size_t batches() const override { return index_.size(); }
    std::size_t rows() const override;
    std::size_t batch_rows(std::size_t k) const override { return index_.at(k).rows; }
    using BatchSource::get;
    const CkksBatch& get(std::size_t k, std::size_t next) override;
    // All batches into memory (for small sets, then cached rotations are possible). With
    // `held`, only the batches k with held[k] are read; the others are placeholders that
    // know their rows only (a rank of a data-parallel server reads its share).
    EncSet load_all(const std::vector<bool>* held = nullptr);

private:
    struct Entry {
        std::uint64_t offset, length;
        std::size_t rows;
    };
    CkksBatch read_batch(std::size_t k) const;
    const ckks::Params& P_;
    std::string path_, kind_;
    const Plan& plan_;
    bool labels_;
    std::uint64_t data_id_ = 0;
    std::vector<Entry> index_;
    CkksBatch current_;
    std::size_t ahead_k_ = SIZE_MAX;
    std::future<CkksBatch> ahead_;
};

// Encrypts the rows of `f` in batches of `batch_rows` straight into the set file `path`
// (memory: one batch); the file appears only when complete.
void encrypt_to_set_file(const std::string& path, const ClientKeys& ck, const std::string& kind,
                         const train::Features& f, std::size_t batch_rows, bool with_labels, std::uint64_t data_id,
                         const Randomness& rnd, std::ostream& log);

// Largest byte size of one batch record the plan allows (bounds every read).
std::size_t max_batch_record_bytes(const ckks::Params& P, const Plan& plan, bool labels);

}  // namespace bt::app
