// ZIP and .npz reading (src/nn/zip.cpp): archives written by Python's zipfile the way numpy
// writes .npz (stored and deflated, ZIP64 forced), our stored writer read back, and every
// refusal: bombs (an entry that inflates beyond its stated size, a stated size DEFLATE
// cannot reach), truncation, overlaps, CRC, methods, missing arrays.
#include "doctest/doctest.h"

#include "nn_data_util.hpp"
#include "bt/nn/inflate.hpp"
#include "bt/nn/zip.hpp"

using namespace bt::nn;
using bt_test::Bytes;
using bt_test::golden;
using bt_test::put_le;
using bt_test::refusal;

namespace {

// One-entry archive with the given method, stated size and data (no ZIP64).
Bytes zip_one(const std::string& name, unsigned method, std::uint32_t stated, const Bytes& data, std::uint32_t crc) {
    Bytes out, dir;
    for (Bytes* b : {&out, &dir}) {
        const bool central = b == &dir;
        put_le(*b, central ? 0x02014b50 : 0x04034b50, 4);
        if (central) put_le(*b, 20, 2);
        put_le(*b, 20, 2);
        put_le(*b, 0, 2);
        put_le(*b, method, 2);
        put_le(*b, 0, 4);
        put_le(*b, crc, 4);
        put_le(*b, data.size(), 4);
        put_le(*b, stated, 4);
        put_le(*b, name.size(), 2);
        put_le(*b, 0, 2);
        if (central) {
            put_le(*b, 0, 6);  // comment length, disk, internal attributes
            put_le(*b, 0, 4);  // external attributes
            put_le(*b, 0, 4);  // local header at 0
        }
        b->insert(b->end(), name.begin(), name.end());
    }
    out.insert(out.end(), data.begin(), data.end());
    const std::size_t at = out.size();
    out.insert(out.end(), dir.begin(), dir.end());
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 4);
    put_le(out, 1, 2);
    put_le(out, 1, 2);
    put_le(out, dir.size(), 4);
    put_le(out, at, 4);
    put_le(out, 0, 2);
    return out;
}

// A raw DEFLATE stream of one stored block holding `data`.
Bytes deflate_stored(const Bytes& data) {
    Bytes b = {0x01};
    put_le(b, data.size(), 2);
    put_le(b, data.size() ^ 0xFFFF, 2);
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

std::string entries_error(const Bytes& z) {
    return refusal([&] { zip_entries(z.data(), z.size(), "t.zip"); });
}
std::string extract_error(const Bytes& z) {
    return refusal([&] {
        const auto es = zip_entries(z.data(), z.size(), "t.zip");
        zip_extract(z.data(), z.size(), es.at(0), "t.zip");
    });
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("zip: numpy-style .npz archives (stored and deflated, ZIP64 entries) give the same arrays") {
    const Npz a(golden("npz_small_stored.npz"), "stored.npz"), b(golden("npz_small_deflated.npz"), "deflated.npz");
    CHECK(a.keys() == "train_images, train_labels, val_images, val_labels, test_images, test_labels");
    for (const char* k : {"train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels"}) {
        CHECK(a.has(k));
        CHECK(a.member(k) == b.member(k));
    }
    const Bytes ti = a.member("train_images");
    const NpyHeader h = parse_npy_header(ti.data(), ti.size(), "train_images");
    CHECK(h.describe() == "uint8 [3, 4, 5]");
    CHECK(npy_u8(ti.data(), ti.size(), h, "x")[7] == 21);
    const Bytes tl = a.member("test_labels");
    CHECK(npy_integers(tl.data(), tl.size(), parse_npy_header(tl.data(), tl.size(), "l"), "l") ==
          std::vector<std::int64_t>{2, 1});
    CHECK_FALSE(a.has("train"));
    CHECK(refusal([&] { a.member("nope"); }).find("no array 'nope' (the archive holds: train_images") != std::string::npos);
}

TEST_CASE("zip: our stored writer is read back entry for entry") {
    const Bytes x = {1, 2, 3}, y(1000, 9);
    const Bytes z = zip_store({{"x.npy", x}, {"y.npy", y}, {"empty.npy", {}}});
    const auto es = zip_entries(z.data(), z.size(), "w");
    REQUIRE(es.size() == 3);
    CHECK(zip_extract(z.data(), z.size(), es[1], "w") == y);
    CHECK(zip_extract(z.data(), z.size(), es[2], "w").empty());
    const Bytes d = deflate_stored(x);  // a deflated entry, decoded by our inflate
    const Bytes z8 = zip_one("d", 8, 3, d, crc32(x.data(), x.size()));
    CHECK(zip_extract(z8.data(), z8.size(), zip_entries(z8.data(), z8.size(), "z8")[0], "z8") == x);
}

TEST_CASE("zip: a small entry that inflates to more than its stated size is refused, as is a stated size no "
          "DEFLATE stream of its length can reach") {
    const Bytes big(5000, 0x41);
    // 5,000 bytes of data stated as 10: inflation stops at 10 bytes and the entry is refused.
    const Bytes z = zip_one("bomb.npy", 8, 10, deflate_stored(big), crc32(big.data(), 10));
    const std::string e = extract_error(z);
    CHECK(e.find("entry 'bomb.npy' (stated size 10 bytes) does not inflate") != std::string::npos);
    CHECK(e.find("exceeds the limit of 10 bytes") != std::string::npos);
    // 8 compressed bytes claiming 4 GiB: refused from the directory alone, nothing allocated.
    const Bytes claim = zip_one("claim.npy", 8, 0xFFFFFFF0u, Bytes(8, 0), 0);
    CHECK(entries_error(claim).find("more than 8 deflated bytes can hold") != std::string::npos);
}

TEST_CASE("zip: malformed archives are refused with what was found") {
    const Bytes x = {1, 2, 3, 4};
    const std::uint32_t crc = crc32(x.data(), x.size());
    const Bytes good = zip_one("a.npy", 0, 4, x, crc);
    CHECK(entries_error(good).empty());
    CHECK(entries_error(Bytes(10, 0)).find("too short") != std::string::npos);
    CHECK(entries_error(Bytes(100, 0)).find("no end of central directory") != std::string::npos);
    Bytes trunc(good.begin() + 10, good.end());  // the front cut off: offsets point outside
    CHECK_FALSE(entries_error(trunc).empty());
    CHECK(entries_error(zip_one("a.npy", 0, 5, x, crc)).find("stored but states 5 bytes for 4") != std::string::npos);
    CHECK(entries_error(zip_one("a.npy", 12, 4, x, crc)).find("compression method 12") != std::string::npos);
    CHECK(extract_error(zip_one("a.npy", 0, 4, x, crc ^ 1)).find("CRC-32 mismatch") != std::string::npos);
    CHECK(extract_error(zip_one("a.npy", 8, 4, Bytes{0x07, 0, 0}, crc)).find("does not inflate") != std::string::npos);
    CHECK(extract_error(zip_one("a.npy", 8, 9, deflate_stored(x), crc)).find("inflates to 4 bytes, its stated size is 9") !=
          std::string::npos);
    Bytes enc = good;
    enc[6] = 1;                           // local flags: irrelevant, the central ones count
    enc[good.size() - 22 - 51 + 8] = 1;   // central directory flags: encrypted
    CHECK(entries_error(enc).find("encrypted") != std::string::npos);
    Bytes bad_local = good;
    bad_local[30] = 'b';  // the local name differs from the central one
    CHECK(entries_error(bad_local).find("disagrees") != std::string::npos);
    Bytes many = good;
    many[good.size() - 22 + 10] = 200;  // 200 entries claimed in a 51-byte directory
    CHECK(entries_error(many).find("cannot fit") != std::string::npos);
    Bytes two = zip_store({{"a", x}, {"a", x}});
    CHECK(entries_error(two).find("appears twice") != std::string::npos);
    const std::string e = entries_error(Bytes(100, 0));
    CHECK(e.find("t.zip") != std::string::npos);
}

}  // TEST_SUITE
