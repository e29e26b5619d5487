// Encrypted data sets in memory and on disk (see bt/app/sets.hpp).
#include "bt/app/sets.hpp"

#include "bt/app/args.hpp"
#include "bt/hash.hpp"
#include "bt/os.hpp"
#include "bt/train/training.hpp"

#include <cstring>
#include <stdexcept>

namespace bt::app {

using ckks::CiphertextBundle;

namespace {

constexpr char kMagic[8] = {'B', 'T', 'S', 'E', 'T', 0, 1, 0};
constexpr char kEndMagic[8] = {'B', 'T', 'S', 'E', 'T', 'E', 'N', 'D'};
constexpr std::size_t kIndexEntry = 24;  // offset, length, rows

void put64(std::vector<std::uint8_t>& b, std::uint64_t v) {
    for (int k = 0; k < 8; ++k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
}

std::uint64_t get64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
    return v;
}

CiphertextBundle header_bundle(const Job& job, const Plan& plan, const std::string& kind, std::uint64_t data_id,
                               bool labels, std::size_t batches) {
    CiphertextBundle b;
    b.set("kind", kind);
    b.set("job_id", hex64(job.id));
    b.set("data_id", hex64(data_id));
    b.set("d", std::to_string(plan.sh.d));
    b.set("classes", std::to_string(plan.sh.c));
    b.set("slots", std::to_string(plan.sh.slots));
    b.set("blocks", std::to_string(plan.sh.blocks));
    b.set("batches", std::to_string(batches));
    b.set("labels", labels ? "1" : "0");
    return b;
}

}  // namespace

std::size_t max_batch_record_bytes(const ckks::Params& P, const Plan& plan, bool labels) {
    const std::size_t cts = plan.sh.blocks + (labels ? 1 : 0);
    const std::size_t level = std::max(plan.lp.x_level, plan.lp.y_label_level);
    return cts * (2 * (level + 1) * P.N() * sizeof(std::uint64_t) + 256) + 4096;
}

// ================================================================ writing

SetWriter::SetWriter(const std::string& path, const ckks::Params& P, const Job& job, const Plan& plan,
                     const std::string& kind, std::uint64_t data_id, bool labels, std::size_t batches)
    : path_(path), P_(P), expected_(batches), labels_(labels) {
    file_ = std::make_unique<AtomicFile>(path, 0644);
    std::vector<std::uint8_t> head(kMagic, kMagic + 8);
    const std::vector<std::uint8_t> hb = ckks::serialize(P, header_bundle(job, plan, kind, data_id, labels, batches));
    put64(head, hb.size());
    head.insert(head.end(), hb.begin(), hb.end());
    put(head);
}

SetWriter::~SetWriter() = default;  // an AtomicFile not committed removes its temporary file

void SetWriter::put(const std::vector<std::uint8_t>& bytes) {
    file_->write(bytes.data(), bytes.size());
    at_ += bytes.size();
}

void SetWriter::add(const CkksBatch& b, const std::vector<Seed>& seeds) {
    if (added_ >= expected_) throw std::logic_error("SetWriter: more batches than announced");
    if (seeds.size() != b.x.size() + (labels_ ? 1 : 0)) throw std::logic_error("SetWriter: one seed per ciphertext");
    CiphertextBundle r;
    r.set("batch", std::to_string(added_));
    r.set("rows", std::to_string(b.total_rows));
    for (std::size_t j = 0; j < b.x.size(); ++j) r.add(b.x[j], seeds[j]);
    if (labels_) r.add(b.y, seeds.back());
    const std::vector<std::uint8_t> bytes = ckks::serialize(P_, r);
    index_.push_back({at_, bytes.size(), b.total_rows});
    put(bytes);
    ++added_;
}

void SetWriter::finish() {
    if (added_ != expected_)
        throw std::logic_error("SetWriter: " + std::to_string(added_) + " batches of " + std::to_string(expected_));
    std::vector<std::uint8_t> idx;
    for (const auto& e : index_) {
        put64(idx, e.offset);
        put64(idx, e.length);
        put64(idx, e.rows);
    }
    const std::uint64_t sum = fnv1a64(idx.data(), idx.size());
    put64(idx, index_.size());
    put64(idx, sum);
    idx.insert(idx.end(), kEndMagic, kEndMagic + 8);
    put(idx);
    file_->commit();
}

void encrypt_to_set_file(const std::string& path, const ClientKeys& ck, const std::string& kind,
                         const train::Features& f, std::size_t batch_rows, bool with_labels, std::uint64_t data_id,
                         const Randomness& rnd, std::ostream& log) {
    SetWriter w(path, *ck.P, ck.job, ck.plan, kind, data_id, with_labels,
                train::make_batches(f.rows, batch_rows).size());
    encrypt_batches(ck, kind, f, batch_rows, with_labels, data_id, rnd, log,
                    [&w](CkksBatch&& b, std::vector<Seed>&& seeds) { w.add(b, seeds); });
    w.finish();
}

// ================================================================ reading

FileSet::FileSet(const ckks::Params& P, const std::string& path, const std::string& kind, const Job& job,
                 const Plan& plan, bool with_labels)
    : P_(P), path_(path), kind_(kind), plan_(plan), labels_(with_labels) {
    if (!path_exists(path))
        throw UsageError(kind + " " + path + " not found: the client's `bt_train encrypt` writes it; pass --server DIR");
    const std::uint64_t size = file_size(path);
    const auto fail = [&](const std::string& what) {
        throw std::runtime_error(path + ": " + what + ": the file is corrupt or not a data set (re-send it)");
    };
    if (size < 16 + 32) fail("shorter than a set file's header and index");
    const std::vector<std::uint8_t> head = read_file_at(path, 0, 16);
    if (std::memcmp(head.data(), kMagic, 8) != 0) {
        if (std::memcmp(head.data(), "BTHE", 4) == 0)
            throw UsageError(path + " is a data set in the format of an earlier BlindTuner version: re-run `bt_train "
                                    "encrypt` with this one");
        fail("no set-file magic");
    }
    const std::uint64_t hlen = get64(head.data() + 8);
    if (hlen > (1u << 20) || 16 + hlen + 32 > size) fail("header length " + std::to_string(hlen) + " beyond the file");
    const CiphertextBundle hb = ckks::deserialize_bundle(P, read_file_at(path, 16, static_cast<std::size_t>(hlen)));
    check_bundle(hb, path, kind, job);
    const CiphertextBundle ref = header_bundle(job, plan, kind, 0, with_labels, 0);
    for (const char* key : {"d", "classes", "slots", "blocks", "labels"})
        if (hb.get(key) != ref.get(key))
            throw std::runtime_error(path + ": " + key + " is " + hb.get(key) + ", the plan needs " + ref.get(key) +
                                     ": the data set's shape differs from the plan; re-run keygen for this shape or "
                                     "encrypt with the planned one");
    data_id_ = parse_hex64(hb.get("data_id"), path);
    const std::uint64_t batches = hb.get_u64("batches");
    const std::vector<std::uint8_t> tail = read_file_at(path, size - 24, 24);
    if (std::memcmp(tail.data() + 16, kEndMagic, 8) != 0) fail("no end marker: the file is truncated or was not completely written");
    if (get64(tail.data()) != batches) fail("the index and the header disagree on the number of batches");
    if (batches == 0 || batches > (size - 16 - hlen) / (kIndexEntry + 32)) fail("implausible number of batches");
    const std::uint64_t ilen = batches * kIndexEntry;
    const std::vector<std::uint8_t> idx = read_file_at(path, size - 24 - ilen, static_cast<std::size_t>(ilen));
    if (fnv1a64(idx.data(), idx.size()) != get64(tail.data() + 8)) fail("index checksum mismatch");
    const std::uint64_t max_len = max_batch_record_bytes(P, plan, with_labels);
    std::uint64_t expect = 16 + hlen;
    for (std::uint64_t k = 0; k < batches; ++k) {
        const std::uint64_t off = get64(idx.data() + k * kIndexEntry), len = get64(idx.data() + k * kIndexEntry + 8);
        const std::uint64_t rows = get64(idx.data() + k * kIndexEntry + 16);
        if (off != expect || len > max_len || len < 64)
            fail("batch " + std::to_string(k) + " at offset " + std::to_string(off) + " of " + std::to_string(len) +
                 " bytes (expected offset " + std::to_string(expect) + ", at most " + std::to_string(max_len) + ")");
        if (rows == 0 || rows > plan.sh.blocks * plan.sh.s0)
            fail("batch " + std::to_string(k) + " has " + std::to_string(rows) + " rows, the plan allows 1.." +
                 std::to_string(plan.sh.blocks * plan.sh.s0));
        index_.push_back({off, len, static_cast<std::size_t>(rows)});
        expect = off + len;
    }
    if (expect != size - 24 - ilen) fail("batch records do not end where the index starts");
}

FileSet::~FileSet() {
    if (ahead_.valid()) ahead_.wait();  // the read-ahead thread touches this object
}

std::size_t FileSet::rows() const {
    std::size_t n = 0;
    for (const auto& e : index_) n += e.rows;
    return n;
}

CkksBatch FileSet::read_batch(std::size_t k) const {
    const Entry& e = index_.at(k);
    const CiphertextBundle b = ckks::deserialize_bundle(P_, read_file_at(path_, e.offset, static_cast<std::size_t>(e.length)));
    const std::string where = path_ + " batch " + std::to_string(k);
    if (!b.has("batch") || b.get("batch") != std::to_string(k) || b.get_u64("rows") != e.rows)
        throw std::runtime_error(where + ": its record names batch " + (b.has("batch") ? b.get("batch") : "?") +
                                 " with " + (b.has("rows") ? b.get("rows") : "?") + " rows, the index says batch " +
                                 std::to_string(k) + " with " + std::to_string(e.rows) + ": the file is corrupt");
    const train::EncShape& sh = plan_.sh;
    if (b.cts.size() != sh.blocks + (labels_ ? 1 : 0))
        throw std::runtime_error(where + ": " + std::to_string(b.cts.size()) + " ciphertexts, the plan has " +
                                 std::to_string(sh.blocks + (labels_ ? 1 : 0)));
    auto check = [&](const ckks::Ciphertext& ct, std::size_t level, const char* what) {
        if (ct.level != level || ct.slots != sh.slots || ct.parts.size() != 2)
            throw std::runtime_error(where + ": a " + what + " ciphertext at level " + std::to_string(ct.level) +
                                     " with " + std::to_string(ct.slots) + " slots and " +
                                     std::to_string(ct.parts.size()) + " parts; the plan needs level " +
                                     std::to_string(level) + ", " + std::to_string(sh.slots) + " slots and 2 parts");
    };
    CkksBatch bd;
    for (std::size_t j = 0; j < sh.blocks; ++j) {
        check(b.cts[j], plan_.lp.x_level, "feature");
        bd.x.push_back(b.cts[j]);
    }
    if (labels_) {
        check(b.cts.back(), plan_.lp.y_label_level, "label");
        bd.y = b.cts.back();
    }
    bd.rows_valid = train::rows_valid(sh, e.rows);
    bd.total_rows = e.rows;
    return bd;
}

const CkksBatch& FileSet::get(std::size_t k, std::size_t next) {
    if (k >= index_.size()) throw std::out_of_range("FileSet::get: batch " + std::to_string(k));
    if (ahead_.valid() && ahead_k_ == k) {
        current_ = ahead_.get();  // rethrows what the read-ahead met
    } else {
        if (ahead_.valid()) ahead_.wait();
        ahead_ = {};
        current_ = read_batch(k);
    }
    ahead_k_ = next;
    if (next < index_.size() && next != k)
        ahead_ = std::async(std::launch::async, [this, n = next] { return read_batch(n); });
    return current_;
}

EncSet FileSet::load_all(const std::vector<bool>* held) {
    EncSet s;
    s.kind = kind_;
    s.data_id = data_id_;
    for (std::size_t k = 0; k < index_.size(); ++k) {
        if (held && !(k < held->size() && (*held)[k])) {
            CkksBatch placeholder;  // no ciphertexts: another rank's
            placeholder.total_rows = index_[k].rows;
            s.batches.push_back(std::move(placeholder));
        } else {
            s.batches.push_back(read_batch(k));
        }
    }
    return s;
}

const CkksBatch& MemorySet::get(std::size_t k, std::size_t) {
    const CkksBatch& b = s_.batches.at(k);
    if (b.x.empty()) throw std::logic_error("batch " + std::to_string(k) + " of " + s_.kind + " is not held by this rank");
    return b;
}

}  // namespace bt::app
