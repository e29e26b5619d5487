// CIFAR-10 binary batches (src/nn/cifar.cpp): planar records to interleaved images, our
// writer read back, the class names, and the refusals.
#include "doctest/doctest.h"

#include "nn_data_util.hpp"
#include "bt/nn/cifar.hpp"

using namespace bt::nn;
using bt_test::Bytes;
using bt_test::refusal;

TEST_SUITE("nn") {

TEST_CASE("cifar: records are a label byte and planar R, G, B; images come out interleaved") {
    Bytes rec(2 * kCifarRecord);
    for (std::size_t i = 0; i < 2; ++i) {
        rec[i * kCifarRecord] = static_cast<std::uint8_t>(3 + 4 * i);
        for (std::size_t c = 0; c < 3; ++c)
            for (std::size_t px = 0; px < 1024; ++px)
                rec[i * kCifarRecord + 1 + c * 1024 + px] = static_cast<std::uint8_t>(px * 3 + c + i);
    }
    const CifarBatch b = parse_cifar_batch(rec.data(), rec.size(), "b");
    CHECK(b.images.count == 2);
    CHECK(b.labels == Bytes{3, 7});
    CHECK(b.images.channels == 3);
    // Pixel (row 1, column 2) = index 34 of image 1: R, G, B = 3·34 + c + 1.
    const std::uint8_t* p = b.images.image(1) + 3 * 34;
    CHECK(p[0] == static_cast<std::uint8_t>(103));
    CHECK(p[1] == static_cast<std::uint8_t>(104));
    CHECK(p[2] == static_cast<std::uint8_t>(105));
    CHECK(encode_cifar_batch(b.images, b.labels) == rec);
    CHECK(parse_cifar_names("airplane\nautomobile \n\nbird\r\n", "m") ==
          std::vector<std::string>{"airplane", "automobile", "bird"});
}

TEST_CASE("cifar: truncated batches, CIFAR-100 records, labels outside the classes and bad names are refused") {
    const Bytes one(kCifarRecord, 1);
    CHECK(refusal([&] { parse_cifar_batch(one.data(), one.size() - 1, "t.bin"); })
              .find("t.bin: 3072 bytes is not a whole number of 3,073-byte records") != std::string::npos);
    const Bytes c100(2 * 3074, 1);
    CHECK(refusal([&] { parse_cifar_batch(c100.data(), c100.size(), "t.bin"); }).find("CIFAR-100") != std::string::npos);
    CHECK(refusal([&] { parse_cifar_batch(one.data(), 0, "t.bin"); }).find("0 bytes") != std::string::npos);
    Bytes bad = one;
    bad[0] = 10;
    CHECK(refusal([&] { parse_cifar_batch(bad.data(), bad.size(), "t.bin"); })
              .find("record 0 has label 10, expected 0..9") != std::string::npos);
    CHECK(refusal([&] { parse_cifar_batch(bad.data(), bad.size(), "t.bin", 11); }).empty());
    CHECK(refusal([&] { parse_cifar_names("cat\n", "m.txt"); }).find("1 class names") != std::string::npos);
    CHECK(refusal([&] { parse_cifar_names("cat\nd\x01og\n", "m.txt"); }).find("control character") != std::string::npos);
}

}  // TEST_SUITE
