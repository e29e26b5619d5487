// Handling of secret material: wiping memory so that a freed secret does not linger,
// and a vector type whose storage is wiped whenever it is released (destruction,
// reallocation). Use SecureVector for secret keys, secret polynomials and seeds.
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <vector>

namespace bt {

// Overwrites n bytes with zeros through a volatile pointer the compiler cannot elide.
void secure_wipe(void* p, std::size_t n);

// Storage for secrets: whole pages of their own, excluded from core dumps where the OS
// allows it (Linux: madvise MADV_DONTDUMP); secure_free wipes them, gives them back to the
// dump, and frees them.
void* secure_alloc(std::size_t bytes);
void secure_free(void* p, std::size_t bytes) noexcept;
// Whether the page holding p is excluded from core dumps (Linux: the "dd" flag of its
// mapping in /proc/self/smaps); false where that cannot be told. For tests.
bool excluded_from_core_dumps(const void* p);

template <class T>
struct WipingAllocator {
    using value_type = T;
    WipingAllocator() = default;
    template <class U>
    WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT: rebinding
    T* allocate(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_alloc();
        return static_cast<T*>(secure_alloc(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { secure_free(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const WipingAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const WipingAllocator<U>&) const noexcept { return false; }
};

template <class T>
using SecureVector = std::vector<T, WipingAllocator<T>>;

}  // namespace bt
