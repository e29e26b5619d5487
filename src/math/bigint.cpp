// BigUInt: schoolbook arithmetic on 64-bit words (see bt/bigint.hpp).
#include "bt/bigint.hpp"

#include <algorithm>
#include <stdexcept>

namespace bt {

void BigUInt::trim() {
    while (!w_.empty() && w_.back() == 0) w_.pop_back();
}

int BigUInt::bit_length() const {
    return w_.empty() ? 0 : static_cast<int>(64 * (w_.size() - 1)) + bt::bit_length(w_.back());
}

int BigUInt::compare(const BigUInt& o) const {
    if (w_.size() != o.w_.size()) return w_.size() < o.w_.size() ? -1 : 1;
    for (std::size_t i = w_.size(); i-- > 0;)
        if (w_[i] != o.w_[i]) return w_[i] < o.w_[i] ? -1 : 1;
    return 0;
}

BigUInt& BigUInt::operator+=(const BigUInt& o) {
    if (w_.size() < o.w_.size()) w_.resize(o.w_.size(), 0);
    u64 carry = 0;
    for (std::size_t i = 0; i < w_.size(); ++i) {
        const u128 s = static_cast<u128>(w_[i]) + (i < o.w_.size() ? o.w_[i] : 0) + carry;
        w_[i] = lo64(s);
        carry = hi64(s);
    }
    if (carry) w_.push_back(carry);
    return *this;
}

BigUInt& BigUInt::operator-=(const BigUInt& o) {
    if (*this < o) throw std::logic_error("BigUInt: subtraction would be negative");
    u64 borrow = 0;
    for (std::size_t i = 0; i < w_.size(); ++i) {
        const u64 b = (i < o.w_.size() ? o.w_[i] : 0);
        const u128 sub = static_cast<u128>(b) + borrow;
        borrow = static_cast<u128>(w_[i]) < sub ? 1 : 0;
        w_[i] = static_cast<u64>(static_cast<u128>(w_[i]) + (static_cast<u128>(borrow) << 64) - sub);
    }
    trim();
    return *this;
}

BigUInt& BigUInt::mul_word(u64 m) {
    u64 carry = 0;
    for (u64& x : w_) {
        const u128 p = static_cast<u128>(x) * m + carry;
        x = lo64(p);
        carry = hi64(p);
    }
    if (carry) w_.push_back(carry);
    trim();
    return *this;
}

BigUInt BigUInt::operator*(const BigUInt& o) const {
    BigUInt r;
    if (is_zero() || o.is_zero()) return r;
    r.w_.assign(w_.size() + o.w_.size(), 0);
    for (std::size_t i = 0; i < w_.size(); ++i) {
        u64 carry = 0;
        for (std::size_t j = 0; j < o.w_.size(); ++j) {
            const u128 p = static_cast<u128>(w_[i]) * o.w_[j] + r.w_[i + j] + carry;
            r.w_[i + j] = lo64(p);
            carry = hi64(p);
        }
        r.w_[i + o.w_.size()] = carry;
    }
    r.trim();
    return r;
}

u64 BigUInt::divmod_word(u64 d) {
    if (d == 0) throw std::invalid_argument("BigUInt: division by zero");
    u128 rem = 0;
    for (std::size_t i = w_.size(); i-- > 0;) {
        const u128 cur = (rem << 64) | w_[i];
        w_[i] = static_cast<u64>(cur / d);
        rem = cur % d;
    }
    trim();
    return static_cast<u64>(rem);
}

u64 BigUInt::mod_word(u64 d) const {
    BigUInt c = *this;
    return c.divmod_word(d);
}

BigUInt& BigUInt::shift_left(int bits) {
    if (is_zero() || bits == 0) return *this;
    const std::size_t words = static_cast<std::size_t>(bits / 64);
    const int rest = bits % 64;
    w_.insert(w_.begin(), words, 0);
    if (rest) {
        u64 carry = 0;
        for (std::size_t i = words; i < w_.size(); ++i) {
            const u64 nc = w_[i] >> (64 - rest);
            w_[i] = (w_[i] << rest) | carry;
            carry = nc;
        }
        if (carry) w_.push_back(carry);
    }
    return *this;
}

BigUInt& BigUInt::shift_right(int bits) {
    const std::size_t words = static_cast<std::size_t>(bits / 64);
    const int rest = bits % 64;
    if (words >= w_.size()) {
        w_.clear();
        return *this;
    }
    w_.erase(w_.begin(), w_.begin() + static_cast<long>(words));
    if (rest) {
        for (std::size_t i = 0; i < w_.size(); ++i) {
            const u64 hi = i + 1 < w_.size() ? w_[i + 1] << (64 - rest) : 0;
            w_[i] = (w_[i] >> rest) | hi;
        }
    }
    trim();
    return *this;
}

void BigUInt::divmod(const BigUInt& d, BigUInt& quot, BigUInt& rem) const {
    if (d.is_zero()) throw std::invalid_argument("BigUInt: division by zero");
    quot = BigUInt();
    rem = BigUInt();
    for (int b = bit_length() - 1; b >= 0; --b) {
        rem.shift_left(1);
        if ((w_[static_cast<std::size_t>(b / 64)] >> (b % 64)) & 1) rem += BigUInt(1);
        quot.shift_left(1);
        if (rem >= d) {
            rem -= d;
            quot += BigUInt(1);
        }
    }
}

long double BigUInt::to_long_double() const {
    long double r = 0;
    for (std::size_t i = w_.size(); i-- > 0;) r = r * 18446744073709551616.0L + static_cast<long double>(w_[i]);
    return r;
}

std::string BigUInt::to_string() const {
    if (is_zero()) return "0";
    BigUInt c = *this;
    std::string s;
    while (!c.is_zero()) s.push_back(static_cast<char>('0' + c.divmod_word(10)));
    std::reverse(s.begin(), s.end());
    return s;
}

}  // namespace bt
