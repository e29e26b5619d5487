// Class-per-folder trees (src/nn/image_folder.cpp): classes from folder names, what is
// skipped, what is refused, and decoding by content.
#include "doctest/doctest.h"

#include "nn_data_util.hpp"
#include "bt/nn/image_folder.hpp"
#include "bt/nn/pnm.hpp"
#include "bt/os.hpp"

using namespace bt::nn;
using bt_test::Bytes;
using bt_test::refusal;

namespace {

void put(const std::string& path, const Bytes& b) {
    bt::make_dirs(bt::dir_name(path));
    bt::write_file_atomic(path, b);
}

Bytes pgm(std::uint8_t v) {
    Image im;
    im.rows = im.cols = 2;
    im.pixels.assign(4, v);
    return encode_pnm(im);
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("image folder: classes are the sorted folder names; non-images are skipped") {
    bt_test::TempDir t;
    const std::string d = t.str();
    put(d + "/train/dog/1.pgm", pgm(1));
    put(d + "/train/dog/2.PGM", pgm(2));
    put(d + "/train/cat/a.png", bt_test::golden("png_gray8_f4.png"));
    put(d + "/train/cat/notes.txt", Bytes{'x'});
    put(d + "/train/cat/.hidden.png", pgm(3));
    put(d + "/test/cat/b.pgm", pgm(4));
    put(d + "/test/emu/c.pgm", pgm(5));
    put(d + "/train/README", Bytes{'x'});
    const ImageFolder f = scan_image_folder(d);
    CHECK(f.classes == std::vector<std::string>{"cat", "dog", "emu"});
    CHECK(f.has_test);
    CHECK_FALSE(f.has_val);
    CHECK(f.train.labels == std::vector<int>{0, 1, 1});
    CHECK(f.train.files[0] == d + "/train/cat/a.png");
    CHECK(f.test.labels == std::vector<int>{0, 2});
    CHECK(f.skipped == 3);
    CHECK(read_image(f.train.files[1]).pixels == Bytes(4, 1));
    CHECK(read_image(f.train.files[0]).cols == 13);
}

TEST_CASE("image folder: a missing train/ or an image outside a class folder is refused; unknown content too") {
    bt_test::TempDir t;
    CHECK(refusal([&] { scan_image_folder(t.str()); }).find("no train/ folder") != std::string::npos);
    put(t.str() + "/train/x.png", pgm(1));
    CHECK(refusal([&] { scan_image_folder(t.str()); }).find("is not in a class folder") != std::string::npos);
    const Bytes jpeg = {0xff, 0xd8, 0xff, 0xe0};
    CHECK(refusal([&] { decode_image(jpeg.data(), jpeg.size(), "x.png"); }).find("neither a PNG nor a PGM/PPM") !=
          std::string::npos);
    CHECK(is_image_file_name("A.PnG"));
    CHECK_FALSE(is_image_file_name("a.jpg"));
}

}  // TEST_SUITE
