// Operating-system helpers shared by every layer: the one atomic file writer, whole-file
// reading, directories, and the process's and machine's memory; plus the one convention
// for printing sizes and durations.
//
// Byte units: IEC binary everywhere a size is shown to a person (KiB, MiB, GiB: powers
// of 1024); machine-readable outputs (report.json, bt_bench --json) give plain bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include "bt/secure.hpp"

#include <string>
#include <vector>

namespace bt {

// ---------------------------------------------------------------- files
// Writes `n` bytes to `path` so that `path` either keeps its old content or has all of the
// new: the bytes go to a new temporary file in the same directory (temp_path_for(path), or
// that name with a further suffix if it exists: created with O_EXCL | O_NOFOLLOW, so a
// stale file or a planted symbolic link is never written through, and given exactly `mode`
// before any byte is written, so a secret file is never readable by others even for a
// moment), which is fsynced and then renamed over `path` (a symbolic link at `path` is
// replaced, not followed); the directory is fsynced too. On any failure the temporary file
// is removed and std::runtime_error names the path, the step that failed and the errno text.
void write_file_atomic(const std::string& path, const void* data, std::size_t n, unsigned mode = 0644);
void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes, unsigned mode = 0644);
void write_file_atomic(const std::string& path, const std::string& text, unsigned mode = 0644);
// The same, written in pieces (files too large to hold in memory at once): the bytes go to
// the temporary file as they come; commit() makes the file complete under `path`; a
// destructor without commit() removes the temporary file (a failed or abandoned write
// leaves nothing behind).
class AtomicFile {
public:
    AtomicFile(const std::string& path, unsigned mode = 0644);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    void write(const void* data, std::size_t n);
    void commit();
    std::uint64_t size() const { return written_; }

private:
    [[noreturn]] void fail(const std::string& step, int err);
    std::string path_, tmp_;
    int fd_ = -1;
    std::uint64_t written_ = 0;
};

// The temporary name write_file_atomic uses for `path`: "<path>.tmp.<pid>". Complete files
// never carry this suffix, so readers of a directory can skip half-written files.
std::string temp_path_for(const std::string& path);

// The whole file. Throws std::runtime_error with the path and the errno text.
std::vector<std::uint8_t> read_file(const std::string& path);
// The whole file into wiped memory, read in one piece (secret keys, seeds).
SecureVector<std::uint8_t> read_file_secret(const std::string& path);
// Exactly n bytes at `offset` of a regular file (std::runtime_error "truncated" if the file
// ends before).
std::vector<std::uint8_t> read_file_at(const std::string& path, std::uint64_t offset, std::size_t n);
// A small text file with trailing white space removed ("" if it cannot be read).
std::string read_text_trimmed(const std::string& path);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
// The names of the entries of a directory (without "." and ".."), sorted bytewise.
// Throws std::runtime_error naming the directory and the errno text.
std::vector<std::string> list_dir(const std::string& dir);
// Size in bytes of a regular file; 0 if it does not exist.
std::size_t file_size(const std::string& path);
// "dir/name" ("name" if dir is empty).
std::string path_join(const std::string& dir, const std::string& name);
// The directory part of a path ("." if it has none).
std::string dir_name(const std::string& path);
// Creates `dir` and its missing parents (like mkdir -p) with `mode`. Throws
// std::runtime_error naming the directory that could not be made and why.
void make_dirs(const std::string& dir, unsigned mode = 0755);
// Creates `dir` (and parents) if needed and makes it mode 0700 even if it existed: a
// directory that holds secrets. std::runtime_error if it cannot.
void make_private_dir(const std::string& dir);
// Creates `dir` if needed and proves it writable by creating and removing a probe file.
// Throws std::runtime_error saying what to do.
void ensure_writable_dir(const std::string& dir, const std::string& what, unsigned mode = 0755);
// Bytes free for an unprivileged user on the file system holding `path` (0 if unknown).
std::size_t disk_free_bytes(const std::string& path);

// ---------------------------------------------------------------- memory
// Peak resident set size of this process in bytes (0 if the platform does not report it).
std::size_t peak_rss_bytes();
// Returns the heap's free memory to the OS (glibc keeps freed polynomials for reuse, see
// src/math/memory.cpp): after a large set of objects is released for good (loaded keys
// replaced by mapped ones). No-op outside glibc.
void release_free_memory();
// Memory this process can use without swapping: the smaller of the kernel's MemAvailable
// and the limit of its control group (cgroup v2 memory.max or v1 limit_in_bytes) minus
// what the group already uses. 0 if neither is known.
std::size_t available_memory_bytes();
// Physical memory of the machine (0 if unknown).
std::size_t total_memory_bytes();

// ---------------------------------------------------------------- text
// "512 B", "12.3 KiB", "45.6 MiB", "13.40 GiB".
std::string format_bytes(std::size_t bytes);
// "m:ss" (or "h:mm:ss" from one hour).
std::string format_clock(double seconds);

}  // namespace bt
