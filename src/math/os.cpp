// Operating-system helpers (see bt/os.hpp): atomic writes, file reading, directories,
// memory of the process and the machine, and the size/duration text convention.
#include "bt/os.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace bt {

// ================================================================ files

std::string temp_path_for(const std::string& path) {
    return path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
}

AtomicFile::AtomicFile(const std::string& path, unsigned mode) : path_(path), tmp_(temp_path_for(path)) {
    for (int k = 0; k < 100 && fd_ < 0; ++k) {  // a fresh name: never an existing file or link
        if (k > 0) tmp_ = temp_path_for(path) + "." + std::to_string(k);
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, static_cast<mode_t>(mode & 0600));
        if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) {
        const int err = errno;  // nothing was created, nothing to remove
        throw std::runtime_error("cannot write " + path_ + ": creating " + tmp_ + ": " + std::strerror(err));
    }
    // open() applies the umask to at most 0600: now the exact mode, before any byte is written.
    if (::fchmod(fd_, static_cast<mode_t>(mode)) != 0) fail("setting the mode of " + tmp_, errno);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) {
        ::close(fd_);
        std::remove(tmp_.c_str());
    }
}

void AtomicFile::fail(const std::string& step, int err) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    std::remove(tmp_.c_str());
    throw std::runtime_error("cannot write " + path_ + ": " + step + ": " + std::strerror(err) +
                             (err == ENOSPC ? " (free some disk space or choose another directory)" : ""));
}

void AtomicFile::write(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::size_t done = 0;
    while (done < n) {
        const ssize_t w = ::write(fd_, p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail("writing " + tmp_, w < 0 ? errno : EIO);
        done += static_cast<std::size_t>(w);
    }
    written_ += n;
}

void AtomicFile::commit() {
    if (::fsync(fd_) != 0) fail("fsync of " + tmp_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
        const int err = errno;
        std::remove(tmp_.c_str());
        throw std::runtime_error("cannot write " + path_ + ": closing " + tmp_ + ": " + std::strerror(err));
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp_.c_str());
        throw std::runtime_error("cannot write " + path_ + ": renaming " + tmp_ + " into place: " + std::strerror(err));
    }
    // Make the rename durable; a directory that cannot be synced is not an error (the
    // file is complete and in place either way).
    const int dfd = ::open(dir_name(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
}

void write_file_atomic(const std::string& path, const void* data, std::size_t n, unsigned mode) {
    AtomicFile f(path, mode);
    f.write(data, n);
    f.commit();
}

void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes, unsigned mode) {
    write_file_atomic(path, bytes.data(), bytes.size(), mode);
}

void write_file_atomic(const std::string& path, const std::string& text, unsigned mode) {
    write_file_atomic(path, text.data(), text.size(), mode);
}

namespace {

// An open regular file, closed on every path out.
struct ReadFd {
    int fd = -1;
    std::size_t size = 0;
    explicit ReadFd(const std::string& path) {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            throw std::runtime_error("cannot read " + path + ": not a regular file");
        }
        size = static_cast<std::size_t>(st.st_size);
    }
    ~ReadFd() { ::close(fd); }
    ReadFd(const ReadFd&) = delete;
    ReadFd& operator=(const ReadFd&) = delete;
    // Up to n bytes at `offset` into dst; fewer only at the end of the file.
    std::size_t read_at(std::uint8_t* dst, std::size_t n, std::uint64_t offset, const std::string& path) const {
        std::size_t done = 0;
        while (done < n) {
            const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
            if (r == 0) break;
            done += static_cast<std::size_t>(r);
        }
        return done;
    }
};

}  // namespace

std::vector<std::uint8_t> read_file(const std::string& path) {
    const ReadFd f(path);
    std::vector<std::uint8_t> out(f.size);
    out.resize(f.read_at(out.data(), out.size(), 0, path));  // shrank while reading: what is there
    return out;
}

SecureVector<std::uint8_t> read_file_secret(const std::string& path) {
    const ReadFd f(path);
    SecureVector<std::uint8_t> out(f.size);
    if (f.read_at(out.data(), out.size(), 0, path) != out.size())
        throw std::runtime_error("cannot read " + path + ": it shrank while read");
    return out;
}

std::vector<std::uint8_t> read_file_at(const std::string& path, std::uint64_t offset, std::size_t n) {
    const ReadFd f(path);
    std::vector<std::uint8_t> out(n);
    if (f.read_at(out.data(), n, offset, path) != n)
        throw std::runtime_error(path + ": truncated: needs " + std::to_string(n) + " bytes at offset " +
                                 std::to_string(offset) + ": the file is incomplete; re-send it");
    return out;
}

std::string read_text_trimmed(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.pop_back();
    return s;
}

bool path_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw std::runtime_error("cannot list directory " + dir + ": " + std::strerror(errno));
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::size_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) : 0;
}

std::string path_join(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string dir_name(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void make_dirs(const std::string& dir, unsigned mode) {
    if (dir.empty()) return;
    for (std::size_t p = dir.find('/', 1);; p = dir.find('/', p + 1)) {
        const std::string part = p == std::string::npos ? dir : dir.substr(0, p);
        if (!part.empty() && ::mkdir(part.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create directory " + part + ": " + std::strerror(errno));
        if (p == std::string::npos) break;
    }
    if (!is_directory(dir)) throw std::runtime_error(dir + " exists and is not a directory");
}

void make_private_dir(const std::string& dir) {
    make_dirs(dir, 0700);
    if (::chmod(dir.c_str(), 0700) != 0)
        throw std::runtime_error("cannot make " + dir + " private (mode 0700): " + std::strerror(errno));
}

void ensure_writable_dir(const std::string& dir, const std::string& what, unsigned mode) {
    try {
        make_dirs(dir, mode);
        const std::string probe = path_join(dir, ".bt_write_probe." + std::to_string(static_cast<long>(::getpid())));
        const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) throw std::runtime_error("cannot create a file in " + dir + ": " + std::strerror(errno));
        ::close(fd);
        std::remove(probe.c_str());
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(what + " " + dir + " is not usable (" + e.what() +
                                 "): choose a directory you can write to");
    }
}

std::size_t disk_free_bytes(const std::string& path) {
    struct statvfs s {};
    if (::statvfs(path.c_str(), &s) != 0) return 0;
    return static_cast<std::size_t>(s.f_bavail) * static_cast<std::size_t>(s.f_frsize);
}

// ================================================================ memory

std::size_t peak_rss_bytes() {
    struct rusage ru {};
    if (::getrusage(RUSAGE_SELF, &ru) != 0 || ru.ru_maxrss <= 0) return 0;
#if defined(__APPLE__)
    return static_cast<std::size_t>(ru.ru_maxrss);  // bytes on macOS
#else
    return static_cast<std::size_t>(ru.ru_maxrss) * 1024;  // KiB on Linux and the BSDs
#endif
}

namespace {

// "Key:   123 kB" from /proc/meminfo, in bytes (0 if absent).
std::size_t meminfo_bytes(const char* key) {
    std::ifstream f("/proc/meminfo");
    std::string k;
    unsigned long long v = 0;
    std::string unit;
    while (f >> k >> v) {
        std::getline(f, unit);
        if (k == std::string(key) + ":") return static_cast<std::size_t>(v) * 1024;
    }
    return 0;
}

// A number from a one-line control-group file; 0 for "max", absent or unreadable.
std::size_t cgroup_value(const char* path) {
    std::ifstream f(path);
    std::string s;
    if (!(f >> s) || s == "max") return 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    return *end ? 0 : static_cast<std::size_t>(v);
}

}  // namespace

std::size_t total_memory_bytes() { return meminfo_bytes("MemTotal"); }

std::size_t available_memory_bytes() {
    std::size_t avail = meminfo_bytes("MemAvailable");
    const std::pair<const char*, const char*> groups[] = {
        {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
        {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
    for (const auto& [limit_path, used_path] : groups) {
        const std::size_t limit = cgroup_value(limit_path);
        // v1 reports "no limit" as a huge number; ignore anything beyond physical memory.
        if (limit == 0 || (total_memory_bytes() && limit >= total_memory_bytes())) continue;
        const std::size_t used = cgroup_value(used_path);
        const std::size_t room = limit > used ? limit - used : 0;
        avail = avail ? std::min(avail, room) : room;
        break;
    }
    return avail;
}

// ================================================================ text

std::string format_bytes(std::size_t bytes) {
    char b[32];
    const double v = static_cast<double>(bytes);
    if (bytes < 1024) std::snprintf(b, sizeof b, "%zu B", bytes);
    else if (v < 1024.0 * 1024) std::snprintf(b, sizeof b, "%.1f KiB", v / 1024);
    else if (v < 1024.0 * 1024 * 1024) std::snprintf(b, sizeof b, "%.1f MiB", v / (1024.0 * 1024));
    else std::snprintf(b, sizeof b, "%.2f GiB", v / (1024.0 * 1024 * 1024));
    return b;
}

std::string format_clock(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
    const long t = static_cast<long>(seconds + 0.5);
    char b[32];
    if (t >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
    return b;
}

}  // namespace bt
