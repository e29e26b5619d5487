// Tests for src/math/threadpool.cpp.
#include "doctest/doctest.h"

#include "bt/threadpool.hpp"

#include <atomic>
#include <chrono>
#include <thread>
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

TEST_CASE("threadpool: a worker asleep after an idle pause, or still spinning, takes the next loop") {
    // Two indices that wait for each other (up to 5 s): the loop completes quickly only if
    // the worker joined it while the caller held the other index. Pauses of 0 (the worker
    // still spinning), 1 ms and 20 ms (past the spin window: asleep on the condition variable).
    ThreadPool pool(2);
    using clock = std::chrono::steady_clock;
    for (int pause_us : {0, 1000, 20000, 0, 20000}) {
        CAPTURE(pause_us);
        std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
        std::atomic<int> arrived{0};
        std::atomic<unsigned> workers_seen{0};
        const auto t0 = clock::now();
        pool.parallel_for(2, [&](std::size_t, unsigned w) {
            workers_seen.fetch_or(1u << w);
            arrived.fetch_add(1);
            const auto give_up = clock::now() + std::chrono::seconds(5);
            while (arrived.load() < 2 && clock::now() < give_up) std::this_thread::yield();
        });
        CHECK(workers_seen.load() == 3u);  // both threads ran an index
        CHECK(clock::now() - t0 < std::chrono::seconds(4));
    }
}

TEST_CASE("threadpool: set_active parks workers and brings them back") {
    ThreadPool pool(4);
    CHECK(pool.active() == 4);
    CHECK_THROWS_AS(pool.set_active(0), std::invalid_argument);
    CHECK_THROWS_AS(pool.set_active(5), std::invalid_argument);
    const std::thread::id caller = std::this_thread::get_id();
    for (unsigned n : {1u, 2u, 3u, 4u, 1u, 4u}) {
        CAPTURE(n);
        pool.set_active(n);
        CHECK(pool.active() == n);
        CHECK(pool.size() == 4);
        for (int round = 0; round < 20; ++round) {
            std::vector<std::atomic<int>> hits(257);
            std::atomic<unsigned> workers_seen{0};
            std::atomic<bool> off_caller{false};
            pool.parallel_for(hits.size(), [&](std::size_t i, unsigned w) {
                hits[i].fetch_add(1);
                workers_seen.fetch_or(1u << w);
                if (std::this_thread::get_id() != caller) off_caller = true;
            });
            for (auto& h : hits) CHECK(h.load() == 1);
            CHECK((workers_seen.load() >> n) == 0u);  // no parked worker ran an index
            if (n == 1) CHECK_FALSE(off_caller.load());  // one thread: all on the caller
        }
        if (n > 1) {
            // Every active thread takes part: n indices that wait for each other (up to 5 s).
            std::atomic<unsigned> arrived{0}, workers_seen{0};
            pool.parallel_for(n, [&](std::size_t, unsigned w) {
                workers_seen.fetch_or(1u << w);
                arrived.fetch_add(1);
                const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
                while (arrived.load() < n && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
            });
            CHECK(workers_seen.load() == (1u << n) - 1);
        }
    }
}

}  // TEST_SUITE
