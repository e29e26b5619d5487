// The fixed-size thread pool (see bt/threadpool.hpp).
#include "bt/threadpool.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace bt {

namespace detail {
void memory_tuning_anchor();  // src/math/memory.cpp
}

namespace {
thread_local bool t_inside_pool = false;
std::unique_ptr<ThreadPool>& global_slot() {
    static std::unique_ptr<ThreadPool> p;
    return p;
}
std::mutex& global_mu() {
    static std::mutex m;
    return m;
}

// How long a waiting thread spins before it sleeps. Long enough to cover the serial work
// between two loops of a key switch or a linear transform (microseconds to a few hundred),
// short enough that an idle pool costs nothing measurable.
constexpr long kSpinMicros = 300;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Spins until done() or kSpinMicros have passed (the caller then checks under the lock).
template <class Done>
void spin_until(Done done) {
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + std::chrono::microseconds(kSpinMicros);
    do {
        for (int k = 0; k < 64; ++k) {
            if (done()) return;
            cpu_relax();
        }
    } while (clock::now() < until);
}
}  // namespace

struct ThreadPool::Job {
    const Task* fn = nullptr;
    std::size_t count = 0;
    std::atomic<std::size_t> next{0};
    std::atomic<unsigned> active{0};  // workers that have not yet finished this job
    unsigned threads = 0;             // threads taking part: the caller and workers 1..threads-1
    std::mutex err_mu;
    std::exception_ptr error;
};

ThreadPool::ThreadPool(unsigned threads) {
    detail::memory_tuning_anchor();
    if (threads == 0) threads = 1;
    const unsigned hw = std::thread::hardware_concurrency();
    spin_ = hw != 0 && threads <= hw;
    active_.store(threads, std::memory_order_relaxed);
    for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::run_indices(Job& job, unsigned worker) {
    const bool was_inside = t_inside_pool;
    t_inside_pool = true;
    for (;;) {
        const std::size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
        if (i >= job.count) break;
        try {
            (*job.fn)(i, worker);
        } catch (...) {
            std::lock_guard<std::mutex> lk(job.err_mu);
            if (!job.error) job.error = std::current_exception();
            job.next.store(job.count, std::memory_order_relaxed);  // abandon the rest
        }
    }
    t_inside_pool = was_inside;
}

void ThreadPool::worker_loop(unsigned id) {
    unsigned long long seen = 0;
    for (;;) {
        std::shared_ptr<Job> job;
        if (spin_ && id < active_.load(std::memory_order_relaxed))
            spin_until([&] {
                return stop_.load(std::memory_order_relaxed) ||
                       generation_.load(std::memory_order_relaxed) != seen;
            });
        {
            // generation_ and job_ change together under mu_, and job_ is only reset after
            // every worker has finished it, so the job read here is the one announced.
            std::unique_lock<std::mutex> lk(mu_);
            wake_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
            if (stop_.load()) return;
            seen = generation_.load();
            job = job_;
        }
        // A worker set aside by set_active (its loop may be over and job_ reset by now).
        if (!job || id >= job->threads) continue;
        run_indices(*job, id);
        if (job->active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard<std::mutex> lk(mu_);
            done_.notify_all();
        }
    }
}

void ThreadPool::parallel_for(std::size_t count, const Task& fn) {
    if (count == 0) return;
    const unsigned threads = active_.load(std::memory_order_relaxed);
    if (threads <= 1 || count == 1 || t_inside_pool) {
        for (std::size_t i = 0; i < count; ++i) fn(i, 0);
        return;
    }
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->count = count;
    job->threads = threads;
    job->active.store(threads - 1, std::memory_order_relaxed);
    bool busy = false;
    {
        std::lock_guard<std::mutex> lk(mu_);
        busy = job_ != nullptr;  // another thread's job holds the workers
        if (!busy) {
            job_ = job;
            ++generation_;
        }
    }
    if (busy) {  // e.g. a read-ahead thread while the main thread computes: run on this thread
        const bool was_inside = t_inside_pool;
        t_inside_pool = true;
        try {
            for (std::size_t i = 0; i < count; ++i) fn(i, 0);
        } catch (...) {
            t_inside_pool = was_inside;
            throw;
        }
        t_inside_pool = was_inside;
        return;
    }
    wake_.notify_all();
    run_indices(*job, 0);
    if (spin_) spin_until([&] { return job->active.load(std::memory_order_acquire) == 0; });
    {
        std::unique_lock<std::mutex> lk(mu_);
        done_.wait(lk, [&] { return job->active.load(std::memory_order_acquire) == 0; });
        job_.reset();
    }
    if (job->error) std::rethrow_exception(job->error);
}

void ThreadPool::set_active(unsigned n) {
    if (n < 1 || n > size())
        throw std::invalid_argument("active thread count " + std::to_string(n) + " outside [1, " +
                                    std::to_string(size()) + "] (the pool's size)");
    active_.store(n, std::memory_order_relaxed);
}

unsigned ThreadPool::default_threads() {
    if (const char* env = std::getenv("BT_THREADS")) {
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        if (end == env || *end != '\0' || v < 1 || v > static_cast<long>(kMaxThreads)) {
            std::fprintf(stderr, "BlindTuner: BT_THREADS='%s' is not a thread count in [1, %u]; "
                                 "unset it or give a number.\n", env, kMaxThreads);
            std::exit(2);
        }
        return static_cast<unsigned>(v);
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : hw;
}

ThreadPool& ThreadPool::global() {
    std::lock_guard<std::mutex> lk(global_mu());
    auto& slot = global_slot();
    if (!slot) slot = std::make_unique<ThreadPool>(default_threads());
    return *slot;
}

void ThreadPool::set_global_threads(unsigned n) {
    if (n < 1 || n > kMaxThreads)
        throw std::invalid_argument("thread count " + std::to_string(n) + " outside [1, " +
                                    std::to_string(kMaxThreads) + "]");
    std::lock_guard<std::mutex> lk(global_mu());
    global_slot() = std::make_unique<ThreadPool>(n);
}

}  // namespace bt
