// ZIP reading and stored-archive writing, and .npz on top; see include/bt/nn/zip.hpp.
#include "bt/nn/zip.hpp"

#include "bt/nn/inflate.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace bt::nn {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error("zip " + name + ": " + what);
}

std::uint64_t le(const std::uint8_t* p, unsigned bytes) {
    std::uint64_t v = 0;
    for (unsigned k = 0; k < bytes; ++k) v |= std::uint64_t{p[k]} << (8 * k);
    return v;
}

constexpr std::uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;
constexpr std::size_t kLocalLen = 30, kCentralLen = 46, kEndLen = 22;

struct Directory {
    std::uint64_t entries = 0, offset = 0, size = 0;
    std::uint64_t end = 0;  // where the end records start (the directory must end before)
};

// The end of central directory record (and its ZIP64 form if present), checked.
Directory find_directory(const std::uint8_t* p, std::size_t n, const std::string& name) {
    if (n < kEndLen) fail(name, "file of " + std::to_string(n) + " bytes, too short for a ZIP archive (at least 22)");
    std::size_t pos = n - kEndLen;
    const std::size_t lowest = n > kEndLen + 65535 ? n - kEndLen - 65535 : 0;
    for (;; --pos) {  // the comment after the record may be up to 65,535 bytes
        if (le(p + pos, 4) == kEndSig && pos + kEndLen + le(p + pos + 20, 2) == n) break;
        if (pos == lowest) fail(name, "no end of central directory record: not a ZIP archive, or truncated");
    }
    if (le(p + pos + 4, 2) != 0 || le(p + pos + 6, 2) != 0)
        fail(name, "a multi-disk (split) archive: join it into one file first");
    Directory d;
    d.entries = le(p + pos + 10, 2);
    d.size = le(p + pos + 12, 4);
    d.offset = le(p + pos + 16, 4);
    d.end = pos;
    if (pos >= 20 && le(p + pos - 20, 4) == kLocator64Sig) {
        const std::uint64_t at = le(p + pos - 12, 8);
        if (at > pos - 20 || pos - 20 - at < 56 || le(p + at, 4) != kEnd64Sig)
            fail(name, "the ZIP64 locator points at " + std::to_string(at) + ", where no ZIP64 end record is");
        if (le(p + at + 16, 4) != 0 || le(p + at + 20, 4) != 0) fail(name, "a multi-disk ZIP64 archive");
        d.entries = le(p + at + 32, 8);
        d.size = le(p + at + 40, 8);
        d.offset = le(p + at + 48, 8);
        d.end = at;
    }
    if (d.offset > d.end || d.size > d.end - d.offset)
        fail(name, "the central directory (" + std::to_string(d.size) + " bytes at " + std::to_string(d.offset) +
                       ") does not fit before the end record at " + std::to_string(d.end) + ": truncated or corrupt");
    if (d.entries > d.size / kCentralLen)
        fail(name, std::to_string(d.entries) + " entries cannot fit in a " + std::to_string(d.size) +
                       "-byte central directory (46 bytes each at least)");
    return d;
}

// The ZIP64 extended information extra field (0x0001) of a central entry: the fields that
// are 0xFFFFFFFF in the fixed part are there, in this order.
void apply_zip64(const std::uint8_t* x, std::size_t xlen, ZipEntry& e, std::uint64_t& local, const std::string& name) {
    const bool need_size = e.size == 0xFFFFFFFFu, need_comp = e.compressed == 0xFFFFFFFFu, need_off = local == 0xFFFFFFFFu;
    for (std::size_t i = 0; i + 4 <= xlen;) {
        const std::uint64_t id = le(x + i, 2), len = le(x + i + 2, 2);
        if (i + 4 + len > xlen) fail(name, "entry '" + e.name + "': an extra field runs past its end");
        if (id == 1) {
            std::size_t k = i + 4;
            auto take = [&](std::uint64_t& v) {
                if (k + 8 > i + 4 + len) fail(name, "entry '" + e.name + "': ZIP64 extra field too short");
                v = le(x + k, 8);
                k += 8;
            };
            if (need_size) take(e.size);
            if (need_comp) take(e.compressed);
            if (need_off) take(local);
            return;
        }
        i += 4 + static_cast<std::size_t>(len);
    }
    if (need_size || need_comp || need_off) fail(name, "entry '" + e.name + "': 32-bit sizes say ZIP64, no ZIP64 field");
}

// Checks the local header of `e` (at `local`) against the central entry; sets data_offset.
void check_local(const std::uint8_t* p, const Directory& d, ZipEntry& e, std::uint64_t local, const std::string& name) {
    const std::string en = "entry '" + e.name + "'";
    if (local > d.offset || d.offset - local < kLocalLen || le(p + local, 4) != kLocalSig)
        fail(name, en + ": no local header at offset " + std::to_string(local));
    const std::uint64_t nlen = le(p + local + 26, 2), xlen = le(p + local + 28, 2);
    const std::uint64_t data = local + kLocalLen + nlen + xlen;
    if (data > d.offset || e.compressed > d.offset - data)
        fail(name, en + ": its " + std::to_string(e.compressed) + " bytes at " + std::to_string(data) +
                       " run into the central directory at " + std::to_string(d.offset) + ": truncated or corrupt");
    if (le(p + local + 8, 2) != e.method || nlen != e.name.size() ||
        std::string(reinterpret_cast<const char*>(p + local + kLocalLen), nlen) != e.name)
        fail(name, en + ": the local header disagrees with the central directory (name or method)");
    e.data_offset = data;
}

void check_sizes(ZipEntry& e, const std::string& name) {
    const std::string en = "entry '" + e.name + "'";
    if (e.method == 0 && e.size != e.compressed)
        fail(name, en + " is stored but states " + std::to_string(e.size) + " bytes for " +
                       std::to_string(e.compressed) + " in the archive");
    if (e.method == 8 && e.size > gzip_max_output(e.compressed))
        fail(name, en + " states " + std::to_string(e.size) + " bytes, more than " + std::to_string(e.compressed) +
                       " deflated bytes can hold: a corrupt or malicious archive");
    if (e.method != 0 && e.method != 8)
        fail(name, en + ": compression method " + std::to_string(e.method) + " (expected 0 stored or 8 deflated)");
}

}  // namespace

std::vector<ZipEntry> zip_entries(const std::uint8_t* p, std::size_t n, const std::string& name) {
    const Directory d = find_directory(p, n, name);
    std::vector<ZipEntry> out;
    out.reserve(static_cast<std::size_t>(d.entries));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;  // [local header, data end)
    std::set<std::string> names;
    std::uint64_t at = d.offset;
    const std::uint64_t stop = d.offset + d.size;
    for (std::uint64_t i = 0; i < d.entries; ++i) {
        if (stop - at < kCentralLen || le(p + at, 4) != kCentralSig)
            fail(name, "central directory entry " + std::to_string(i) + " is missing or corrupt");
        const std::uint8_t* c = p + at;
        const std::uint64_t nlen = le(c + 28, 2), xlen = le(c + 30, 2), clen = le(c + 32, 2);
        if (kCentralLen + nlen + xlen + clen > stop - at) fail(name, "central directory entry " + std::to_string(i) + " runs past the directory");
        ZipEntry e;
        e.name.assign(reinterpret_cast<const char*>(c + kCentralLen), nlen);
        if (le(c + 8, 2) & 1) fail(name, "entry '" + e.name + "' is encrypted");
        e.method = static_cast<unsigned>(le(c + 10, 2));
        e.crc = static_cast<std::uint32_t>(le(c + 16, 4));
        e.compressed = le(c + 20, 4);
        e.size = le(c + 24, 4);
        std::uint64_t local = le(c + 42, 4);
        apply_zip64(c + kCentralLen + nlen, xlen, e, local, name);
        check_sizes(e, name);
        check_local(p, d, e, local, name);
        if (!names.insert(e.name).second) fail(name, "entry '" + e.name + "' appears twice");
        spans.emplace_back(local, e.data_offset + e.compressed);
        out.push_back(std::move(e));
        at += kCentralLen + nlen + xlen + clen;
    }
    std::sort(spans.begin(), spans.end());
    for (std::size_t k = 1; k < spans.size(); ++k)
        if (spans[k].first < spans[k - 1].second) fail(name, "entries overlap: a corrupt or malicious archive");
    return out;
}

std::vector<std::uint8_t> zip_extract(const std::uint8_t* p, std::size_t n, const ZipEntry& e, const std::string& name) {
    const std::string en = "entry '" + e.name + "'";
    if (e.data_offset > n || e.compressed > n - e.data_offset) fail(name, en + " lies outside the archive");
    const std::uint8_t* src = p + e.data_offset;
    const std::size_t comp = static_cast<std::size_t>(e.compressed), size = static_cast<std::size_t>(e.size);
    std::vector<std::uint8_t> out;
    if (e.method == 0) {
        out.assign(src, src + comp);
    } else {
        try {
            out = inflate_raw(src, comp, nullptr, size);
        } catch (const std::runtime_error& ex) {
            fail(name, en + " (stated size " + std::to_string(size) + " bytes) does not inflate: " + ex.what());
        }
    }
    if (out.size() != size)
        fail(name, en + " inflates to " + std::to_string(out.size()) + " bytes, its stated size is " + std::to_string(size));
    if (crc32(out.data(), out.size()) != e.crc) fail(name, en + ": CRC-32 mismatch (the data is corrupt)");
    return out;
}

std::vector<std::uint8_t> zip_store(const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& entries) {
    std::vector<std::uint8_t> out, dir;
    auto put = [](std::vector<std::uint8_t>& b, std::uint64_t v, unsigned bytes) {
        for (unsigned k = 0; k < bytes; ++k) b.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
    };
    for (const auto& [ename, data] : entries) {
        const std::uint32_t crc = crc32(data.data(), data.size());
        const std::size_t local = out.size();
        for (std::vector<std::uint8_t>* b : {&out, &dir}) {
            const bool central = b == &dir;
            put(*b, central ? kCentralSig : kLocalSig, 4);
            if (central) put(*b, 20, 2);  // version made by
            put(*b, 20, 2);               // version needed
            put(*b, 0, 2);                // flags
            put(*b, 0, 2);                // method: stored
            put(*b, 0, 2);                // time
            put(*b, 0x21, 2);             // date: 1980-01-01
            put(*b, crc, 4);
            put(*b, data.size(), 4);
            put(*b, data.size(), 4);
            put(*b, ename.size(), 2);
            put(*b, 0, 2);  // extra length
            if (central) {
                put(*b, 0, 2);  // comment length
                put(*b, 0, 2);  // disk
                put(*b, 0, 2);  // internal attributes
                put(*b, 0, 4);  // external attributes
                put(*b, local, 4);
            }
            b->insert(b->end(), ename.begin(), ename.end());
        }
        out.insert(out.end(), data.begin(), data.end());
    }
    const std::size_t dir_at = out.size();
    out.insert(out.end(), dir.begin(), dir.end());
    put(out, kEndSig, 4);
    put(out, 0, 4);  // disks
    put(out, entries.size(), 2);
    put(out, entries.size(), 2);
    put(out, dir.size(), 4);
    put(out, dir_at, 4);
    put(out, 0, 2);  // comment length
    return out;
}

// ================================================================ .npz

Npz::Npz(std::vector<std::uint8_t> file, std::string name) : file_(std::move(file)), name_(std::move(name)) {
    entries_ = zip_entries(file_.data(), file_.size(), name_);
}

Npz Npz::read(const std::string& path) { return Npz(bt::read_file(path), path); }

const ZipEntry* Npz::find(const std::string& key) const {
    for (const ZipEntry& e : entries_)
        if (e.name == key + ".npy") return &e;
    return nullptr;
}

bool Npz::has(const std::string& key) const { return find(key) != nullptr; }

std::string Npz::keys() const {
    std::string s;
    for (const ZipEntry& e : entries_) {
        const bool npy = e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".npy") == 0;
        s += (s.empty() ? "" : ", ") + (npy ? e.name.substr(0, e.name.size() - 4) : e.name);
    }
    return s.empty() ? "none" : s;
}

std::vector<std::uint8_t> Npz::member(const std::string& key) const {
    const ZipEntry* e = find(key);
    if (!e) fail(name_, "no array '" + key + "' (the archive holds: " + keys() + ")");
    return zip_extract(file_.data(), file_.size(), *e, name_);
}

}  // namespace bt::nn
