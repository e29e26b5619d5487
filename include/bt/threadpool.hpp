// One fixed-size pool of worker threads for the whole process (DESIGN.md: "one fixed-size
// pool; parallelism over RNS limbs or independent ciphertexts; each worker owns its
// scratch memory").
//
// parallel_for(count, fn) runs fn(index, worker) for every index in [0, count) and returns
// when all are done; the calling thread works too, so a pool of size 1 runs everything
// inline. `worker` in [0, size()) identifies the thread, for per-worker scratch. A
// parallel_for issued from inside a worker runs inline (no nested parallelism, no
// deadlock). The first exception thrown by fn is rethrown to the caller after all
// indices have finished or been abandoned.
//
// Size: BT_THREADS if set, else the number of hardware threads; set_global_threads()
// (the --threads flag) overrides before first use or resizes later.
//
// Waiting: a bootstrap issues ~500 loops of 0.1-1 ms each. A worker that has finished a
// loop, and the caller waiting for the last index, first spin (bounded by kSpinMicros of
// wall time, with the CPU's pause hint) and only then sleep on a condition variable, so a
// loop that follows shortly is picked up without a futex wake-up through the hypervisor
// (an instrumented pool measured 30-90 ms per bootstrap in wake-ups on a 2-vCPU guest; the
// bootstrap's time with and without the spin differed by less than that host's noise,
// and a profile of the spinning pool put all waiting at ~1.5 % of a two-thread bootstrap). A pool with
// more threads than the hardware has never spins (a spinning thread would then take a
// core from one that works).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bt {

// The most threads a pool may have (BT_THREADS and --threads alike).
constexpr unsigned kMaxThreads = 1024;

class ThreadPool {
public:
    using Task = std::function<void(std::size_t index, unsigned worker)>;

    explicit ThreadPool(unsigned threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }
    // Threads that take part in loops: the caller and workers 1..n-1 (1 <= n <= size(), else
    // std::invalid_argument; a new pool has all). The others stay parked with their
    // per-thread scratch memory, so a benchmark compares thread counts on one warm pool
    // (a resized pool starts new threads, whose first loops fault their scratch in).
    // Not to be called while a loop runs.
    void set_active(unsigned n);
    unsigned active() const { return active_.load(std::memory_order_relaxed); }
    // Runs fn(i, worker) for i in [0, count) on the pool. May be called from any thread:
    // calls from inside a task, and calls from another thread while a job is running, run
    // their loop serially on the calling thread (worker index 0).
    void parallel_for(std::size_t count, const Task& fn);

    // The process-wide pool.
    static ThreadPool& global();
    // Resizes the process-wide pool (1 <= n <= kMaxThreads, else std::invalid_argument).
    // Not to be called while it is in use.
    static void set_global_threads(unsigned n);
    // Threads from BT_THREADS (validated), else std::thread::hardware_concurrency().
    static unsigned default_threads();

private:
    struct Job;
    void worker_loop(unsigned id);
    void run_indices(Job& job, unsigned worker);

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable wake_, done_;
    std::shared_ptr<Job> job_;
    // Written under mu_; read without it only by the spinning waits.
    std::atomic<unsigned long long> generation_{0};
    std::atomic<bool> stop_{false};
    std::atomic<unsigned> active_{1};  // set_active
    bool spin_ = false;  // threads <= hardware threads
};

// Convenience: ThreadPool::global().parallel_for(count, fn).
inline void parallel_for(std::size_t count, const ThreadPool::Task& fn) {
    ThreadPool::global().parallel_for(count, fn);
}

}  // namespace bt
