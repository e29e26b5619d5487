#!/usr/bin/env python3
"""Known answers for src/math/detmath.cpp (deterministic cos, sin, exp, log, pow).

An independent implementation: Python's decimal module at 60 significant digits (its exp
and ln are correctly rounded; cos and sin are the Taylor series of the decimal module's
documentation recipes), rounded once to the nearest double by float(str(...)). Prints
the C++ table that tests/math/detmath.cpp holds; rerun and paste to regenerate.
Usage: python3 tools/gen_detmath_kat.py
"""
from decimal import Decimal, getcontext

getcontext().prec = 60


def pi():
    getcontext().prec += 4
    three = Decimal(3)
    lasts, t, s, n, na, d, da = 0, three, 3, 1, 0, 0, 24
    while s != lasts:
        lasts = s
        n, na = n + na, na + 8
        d, da = d + da, da + 32
        t = (t * n) / d
        s += t
    getcontext().prec -= 4
    return +s


def cos(x):
    getcontext().prec += 4
    i, lasts, s, fact, num, sign = 0, 0, 1, 1, 1, 1
    while s != lasts:
        lasts = s
        i += 2
        fact *= i * (i - 1)
        num *= x * x
        sign *= -1
        s += num / fact * sign
    getcontext().prec -= 4
    return +s


def sin(x):
    getcontext().prec += 4
    i, lasts, s, fact, num, sign = 1, 0, x, 1, x, 1
    while s != lasts:
        lasts = s
        i += 2
        fact *= i * (i - 1)
        num *= x * x
        sign *= -1
        s += num / fact * sign
    getcontext().prec -= 4
    return +s


PI = pi()


def reduce_turns(t):  # t mod 1 in [0, 1), as an exact Decimal for exact inputs
    return t - (t // 1 if t >= 0 else -((-t) // 1) - (0 if t == t.to_integral_value() else 1))


def dbl(x):
    return float(str(x)).hex()


def main():
    ratios = [(1, 8), (1, 12), (1, 3), (2, 7), (5, 36), (3, 131072), (12345, 131072), (65535, 131072),
              (98304, 131072), (32768, 131072), (7, 16384), (255, 256), (1000003, 2097152), (11, 36)]
    print("// (k, m, cos(2πk/m), sin(2πk/m))")
    for k, m in ratios:
        if 4 * k % m == 0:  # a multiple of π/2: exact (the series would give ±1e-60 for 0)
            c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][4 * k // m % 4]
            print("    {%d, %d, %s, %s}," % (k, m, float(c).hex(), float(s).hex()))
            continue
        t = reduce_turns(Decimal(k) / Decimal(m))
        x = 2 * PI * t
        print("    {%d, %d, %s, %s}," % (k, m, dbl(cos(x)), dbl(sin(x))))
    print("// (u, cos(2πu))")
    for u in [0.1, -0.3, 0.24999, 17.123456789, -4.2, 3.3333, 1e-5, 0.375, -0.126, 1234.5678]:
        t = reduce_turns(Decimal(u))
        print("    {%s, %s}," % (u.hex(), dbl(cos(2 * PI * t))))
    print("// (x, e^x)")
    for x in [-20.0, -1.0, -0.5, 0.1, 1.0, 2.5, 5.0, 10.0, 700.0, -700.0, 0.34657, -0.34657, 3.75]:
        print("    {%s, %s}," % (x.hex(), dbl(Decimal(x).exp())))
    print("// (x, ln x)")
    for x in [0.5, 2.0, 3.0, 10.0, 1e-10, 12345.678, 0.7071, 1.4142, 1.0000001]:
        print("    {%s, %s}," % (x.hex(), dbl(Decimal(x).ln())))
    print("// (x, y, x^y)")
    for x, y in [(0.001, 1 / 3), (2.0, 0.5), (7.5, 1 / 3), (1e-6, 0.25), (0.0625, 1 / 3), (3.0, -2.5)]:
        print("    {%s, %s, %s}," % (x.hex(), y.hex(), dbl((Decimal(y) * Decimal(x).ln()).exp())))


if __name__ == "__main__":
    main()
