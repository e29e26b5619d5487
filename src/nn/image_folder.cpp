// Class-per-folder image trees; see include/bt/nn/image_folder.hpp.
#include "bt/nn/image_folder.hpp"

#include "bt/nn/png.hpp"
#include "bt/nn/pnm.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

namespace bt::nn {

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The class folders of one split and, per class, its image files.
struct SplitListing {
    std::vector<std::string> classes;
    std::vector<std::vector<std::string>> files;  // per class, sorted
};

SplitListing list_split(const std::string& split_dir, std::size_t& skipped) {
    SplitListing s;
    for (const std::string& c : list_dir(split_dir)) {
        const std::string cdir = path_join(split_dir, c);
        if (c[0] == '.') {
            ++skipped;
            continue;
        }
        if (!is_directory(cdir)) {
            if (is_image_file_name(c))
                throw std::runtime_error("image folder: " + cdir + " is not in a class folder: put each image in " +
                                         split_dir + "/CLASS/ (one folder per class)");
            ++skipped;
            continue;
        }
        std::vector<std::string> files;
        for (const std::string& f : list_dir(cdir)) {
            const std::string fp = path_join(cdir, f);
            if (f[0] != '.' && is_image_file_name(f) && !is_directory(fp)) files.push_back(fp);
            else ++skipped;
        }
        s.classes.push_back(c);
        s.files.push_back(std::move(files));
    }
    return s;
}

void fill(FolderSplit& out, const SplitListing& l, const std::vector<std::string>& classes) {
    for (std::size_t k = 0; k < l.classes.size(); ++k) {
        const auto at = std::lower_bound(classes.begin(), classes.end(), l.classes[k]);
        const int label = static_cast<int>(at - classes.begin());
        for (const std::string& f : l.files[k]) {
            out.files.push_back(f);
            out.labels.push_back(label);
        }
    }
}

}  // namespace

bool is_image_file_name(const std::string& name) {
    const std::size_t dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    const std::string ext = lower(name.substr(dot + 1));
    return ext == "png" || ext == "pgm" || ext == "ppm" || ext == "pnm";
}

ImageFolder scan_image_folder(const std::string& dir) {
    ImageFolder f;
    f.dir = dir;
    const std::string train = path_join(dir, "train");
    if (!is_directory(train))
        throw std::runtime_error("image folder " + dir + ": no train/ folder (expected " + dir +
                                 "/train/CLASS/*.png, optional test/ and val/ alike)");
    const SplitListing tr = list_split(train, f.skipped);
    SplitListing va, te;
    f.has_val = is_directory(path_join(dir, "val"));
    f.has_test = is_directory(path_join(dir, "test"));
    if (f.has_val) va = list_split(path_join(dir, "val"), f.skipped);
    if (f.has_test) te = list_split(path_join(dir, "test"), f.skipped);
    std::set<std::string> names(tr.classes.begin(), tr.classes.end());
    names.insert(va.classes.begin(), va.classes.end());
    names.insert(te.classes.begin(), te.classes.end());
    f.classes.assign(names.begin(), names.end());
    fill(f.train, tr, f.classes);
    fill(f.val, va, f.classes);
    fill(f.test, te, f.classes);
    return f;
}

Image decode_image(const std::uint8_t* p, std::size_t n, const std::string& name) {
    if (is_png(p, n)) return decode_png(p, n, name);
    if (n >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7') return decode_pnm(p, n, name);
    throw std::runtime_error("image " + name + ": neither a PNG nor a PGM/PPM file (by its first bytes); convert it "
                             "to PNG");
}

Image read_image(const std::string& path) {
    const std::vector<std::uint8_t> bytes = bt::read_file(path);
    return decode_image(bytes.data(), bytes.size(), path);
}

}  // namespace bt::nn
