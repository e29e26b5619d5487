// A small unsigned big integer: enough for exact CRT reconstruction (tests, decoding)
// and for checking RNS kernels against exact arithmetic. Not for hot paths, and not
// constant-time: never give it secret-key material.
#pragma once

#include "bt/modarith.hpp"

#include <string>
#include <vector>

namespace bt {

class BigUInt {
public:
    BigUInt() = default;
    BigUInt(u64 v) { if (v) w_.push_back(v); }  // NOLINT: implicit from a word is natural

    bool is_zero() const { return w_.empty(); }
    const std::vector<u64>& words() const { return w_; }  // little-endian, no leading zeros
    int bit_length() const;
    int compare(const BigUInt& o) const;  // -1, 0, 1
    bool operator<(const BigUInt& o) const { return compare(o) < 0; }
    bool operator==(const BigUInt& o) const { return w_ == o.w_; }
    bool operator!=(const BigUInt& o) const { return w_ != o.w_; }
    bool operator>=(const BigUInt& o) const { return compare(o) >= 0; }

    BigUInt& operator+=(const BigUInt& o);
    BigUInt& operator-=(const BigUInt& o);  // requires *this >= o
    BigUInt& mul_word(u64 m);
    BigUInt operator*(const BigUInt& o) const;
    // Divides by d != 0 in place and returns the remainder.
    u64 divmod_word(u64 d);
    u64 mod_word(u64 d) const;
    // Quotient and remainder by a big divisor (shift-subtract; slow, fine for tests).
    void divmod(const BigUInt& d, BigUInt& quot, BigUInt& rem) const;
    BigUInt& shift_right(int bits);
    BigUInt& shift_left(int bits);
    long double to_long_double() const;
    std::string to_string() const;  // decimal

    friend BigUInt operator+(BigUInt a, const BigUInt& b) { return a += b; }
    friend BigUInt operator-(BigUInt a, const BigUInt& b) { return a -= b; }

private:
    void trim();
    std::vector<u64> w_;
};

}  // namespace bt
