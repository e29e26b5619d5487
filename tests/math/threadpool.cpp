// Tests for src/math/threadpool.cpp.
#include "doctest/doctest.h"

#include "bt/threadpool.hpp"

#include <atomic>
#include <stdexcept>
#include <vector>

using namespace bt;

TEST_SUITE("math") {

TEST_CASE("threadpool: every index runs exactly once, workers in range") {
    for (unsigned threads : {1u, 2u, 4u}) {
        ThreadPool pool(threads);
        CHECK(pool.size() == threads);
        for (std::size_t count : {0u, 1u, 3u, 1000u}) {
            std::vector<std::atomic<int>> hits(count);
            std::atomic<bool> worker_ok{true};
            pool.parallel_for(count, [&](std::size_t i, unsigned w) {
                hits[i].fetch_add(1);
                if (w >= threads) worker_ok = false;
            });
            for (auto& h : hits) CHECK(h.load() == 1);
            CHECK(worker_ok.load());
        }
    }
}

TEST_CASE("threadpool: nested parallel_for runs inline, exceptions propagate") {
    ThreadPool pool(2);
    std::atomic<int> total{0};
    pool.parallel_for(8, [&](std::size_t, unsigned) {
        pool.parallel_for(4, [&](std::size_t, unsigned) { total.fetch_add(1); });
    });
    CHECK(total.load() == 32);
    CHECK_THROWS_WITH_AS(pool.parallel_for(100, [](std::size_t i, unsigned) {
                             if (i == 37) throw std::runtime_error("boom at 37");
                         }),
                         "boom at 37", std::runtime_error);
    // The pool is still usable afterwards.
    std::atomic<int> n{0};
    pool.parallel_for(10, [&](std::size_t, unsigned) { n.fetch_add(1); });
    CHECK(n.load() == 10);
}

}  // TEST_SUITE
