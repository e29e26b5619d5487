// Every MPI call of BlindTuner (see bt/dist/comm.hpp). Without -DBT_MPI a Comm is one
// process and the collectives are identities.
#include "bt/dist/comm.hpp"

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#ifdef BT_MPI
#define OMPI_SKIP_MPICXX 1  // the C interface only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace bt::dist {

namespace {
// Messages go in pieces MPI's int counts can express.
constexpr std::size_t kChunk = std::size_t{1} << 28;
// The rank count an MPI launcher announces in the environment (0: none).
int launcher_ranks() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
        if (const char* v = std::getenv(var)) {
            const long n = std::strtol(v, nullptr, 10);
            if (n > 1) return static_cast<int>(n);
        }
    return 0;
}
}  // namespace

#ifdef BT_MPI
struct Comm::Impl {
    MPI_Comm comm = MPI_COMM_NULL, node = MPI_COMM_NULL;
};

namespace {
void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, msg, &len);
        throw std::runtime_error(std::string("MPI ") + what + ": " + std::string(msg, static_cast<std::size_t>(len)));
    }
}
void ensure_init() {
    int done = 0;
    MPI_Initialized(&done);
    if (!done) init(nullptr, nullptr);
}
std::unique_ptr<Comm::Impl> make_impl(MPI_Comm base) {
    ensure_init();
    auto impl = std::make_unique<Comm::Impl>();
    impl->comm = base;
    check(MPI_Comm_split_type(base, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &impl->node), "Comm_split_type");
    return impl;
}
}  // namespace

Comm& Comm::world() {
    static Comm c(make_impl(MPI_COMM_WORLD));
    return c;
}
Comm& Comm::self() {
    static Comm c(make_impl(MPI_COMM_SELF));
    return c;
}
Comm::Comm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
    MPI_Comm_rank(impl_->comm, &rank_);
    MPI_Comm_size(impl_->comm, &size_);
    MPI_Comm_rank(impl_->node, &node_rank_);
    MPI_Comm_size(impl_->node, &node_size_);
}
Comm::~Comm() = default;

void Comm::barrier() const { check(MPI_Barrier(impl_->comm), "Barrier"); }
void Comm::node_barrier() const { check(MPI_Barrier(impl_->node), "Barrier"); }

void Comm::bcast(std::vector<std::uint8_t>& bytes, int root) const {
    std::uint64_t n = bcast_u64(bytes.size(), root);
    if (rank_ != root) bytes.assign(n, 0);
    for (std::size_t at = 0; at < n; at += kChunk) {
        const int len = static_cast<int>(std::min<std::size_t>(kChunk, n - at));
        check(MPI_Bcast(bytes.data() + at, len, MPI_BYTE, root, impl_->comm), "Bcast");
    }
    bytes_ += n;
}

std::uint64_t Comm::bcast_u64(std::uint64_t v, int root) const {
    check(MPI_Bcast(&v, 1, MPI_UINT64_T, root, impl_->comm), "Bcast");
    return v;
}

std::vector<std::vector<std::uint8_t>> Comm::gather(const std::vector<std::uint8_t>& mine, int root) const {
    // Lengths first (every rank learns them), then each rank's bytes to the root in pieces
    // MPI's int counts can express: no limit on the total.
    std::uint64_t len = mine.size();
    std::vector<std::uint64_t> lens(static_cast<std::size_t>(size_));
    check(MPI_Allgather(&len, 1, MPI_UINT64_T, lens.data(), 1, MPI_UINT64_T, impl_->comm), "Allgather");
    std::vector<std::vector<std::uint8_t>> out;
    bytes_ += mine.size();
    if (rank_ == root) {
        out.resize(static_cast<std::size_t>(size_));
        for (int r = 0; r < size_; ++r) {
            std::vector<std::uint8_t>& dst = out[static_cast<std::size_t>(r)];
            if (r == root) {
                dst = mine;
                continue;
            }
            dst.resize(lens[static_cast<std::size_t>(r)]);
            for (std::size_t at = 0; at < dst.size(); at += kChunk) {
                const int n = static_cast<int>(std::min<std::size_t>(kChunk, dst.size() - at));
                check(MPI_Recv(dst.data() + at, n, MPI_BYTE, r, 17, impl_->comm, MPI_STATUS_IGNORE), "Recv");
            }
            bytes_ += dst.size();
        }
    } else {
        for (std::size_t at = 0; at < mine.size(); at += kChunk) {
            const int n = static_cast<int>(std::min<std::size_t>(kChunk, mine.size() - at));
            check(MPI_Send(mine.data() + at, n, MPI_BYTE, root, 17, impl_->comm), "Send");
        }
    }
    return out;
}

std::uint64_t Comm::bcast_u64_waiting(std::uint64_t v, int root) const {
    // A rank may wait here for a long time (the client's validation answer): poll with
    // sleeps instead of spinning a core in a blocking broadcast.
    MPI_Request req;
    check(MPI_Ibcast(&v, 1, MPI_UINT64_T, root, impl_->comm, &req), "Ibcast");
    for (int done = 0;;) {
        check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "Test");
        if (done) return v;
        if (rank_ != root) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void Comm::allreduce_sum(std::uint64_t* v, std::size_t n) const {
    for (std::size_t at = 0; at < n; at += kChunk / 8) {
        const int len = static_cast<int>(std::min<std::size_t>(kChunk / 8, n - at));
        check(MPI_Allreduce(MPI_IN_PLACE, v + at, len, MPI_UINT64_T, MPI_SUM, impl_->comm), "Allreduce");
    }
    // A ring or tree all-reduce moves about 2·(R − 1)/R of the vector in and out per rank.
    if (size_ > 1) bytes_ += 2 * n * 8 * static_cast<std::uint64_t>(size_ - 1) / static_cast<std::uint64_t>(size_);
}

std::uint64_t Comm::allreduce_min(std::uint64_t v) const {
    check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_UINT64_T, MPI_MIN, impl_->comm), "Allreduce");
    return v;
}
std::uint64_t Comm::allreduce_max(std::uint64_t v) const {
    check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_UINT64_T, MPI_MAX, impl_->comm), "Allreduce");
    return v;
}

void Comm::abort(int code) const {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
}

void init(int* argc, char*** argv) {
    int done = 0;
    MPI_Initialized(&done);
    if (done) return;
    int provided = 0;
    // Worker threads compute; only the main thread calls MPI.
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "Init_thread");
    if (provided < MPI_THREAD_FUNNELED)
        throw std::runtime_error("this MPI library does not support worker threads beside MPI (MPI_THREAD_FUNNELED): "
                                 "use Open MPI or MPICH as Debian packages them");
}
void finalize() {
    int init_done = 0, fin_done = 0;
    MPI_Initialized(&init_done);
    MPI_Finalized(&fin_done);
    if (init_done && !fin_done) MPI_Finalize();
}
bool built_with_mpi() { return true; }
int launched_without_mpi() {
    // Started by another MPI's launcher, every process would be a singleton rank 0 of 1.
    const int n = launcher_ranks();
    return n > 1 && Comm::world().size() == 1 ? n : 0;
}

#else  // one process

struct Comm::Impl {};
Comm& Comm::world() {
    static Comm c(std::make_unique<Impl>());
    return c;
}
Comm& Comm::self() {
    static Comm c(std::make_unique<Impl>());
    return c;
}
Comm::Comm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Comm::~Comm() = default;
void Comm::barrier() const {}
void Comm::node_barrier() const {}
void Comm::bcast(std::vector<std::uint8_t>&, int) const {}
std::uint64_t Comm::bcast_u64(std::uint64_t v, int) const { return v; }
std::vector<std::vector<std::uint8_t>> Comm::gather(const std::vector<std::uint8_t>& mine, int) const { return {mine}; }
void Comm::allreduce_sum(std::uint64_t*, std::size_t) const {}
std::uint64_t Comm::allreduce_min(std::uint64_t v) const { return v; }
std::uint64_t Comm::allreduce_max(std::uint64_t v) const { return v; }
void Comm::abort(int code) const { std::_Exit(code); }
std::uint64_t Comm::bcast_u64_waiting(std::uint64_t v, int) const { return v; }
void init(int*, char***) {}
void finalize() {}
bool built_with_mpi() { return false; }
int launched_without_mpi() {
    const int n = launcher_ranks();
    return n > 1 ? n : 0;
}

#endif

bool reduction_safe(std::size_t ranks, std::uint64_t q) {
    if (ranks == 0 || q == 0) return false;
    // R·(q − 1) <= 2^64 − 1
    return q - 1 <= UINT64_MAX / ranks;
}

void allreduce_mod(const Comm& c, std::uint64_t* data, std::size_t n, std::uint64_t q) {
    const std::size_t R = static_cast<std::size_t>(c.size());
    if (!reduction_safe(R, q))
        throw std::invalid_argument("exact reduction over " + std::to_string(R) + " ranks: " + std::to_string(R) +
                                    " residues below q = " + std::to_string(q) +
                                    " can overflow 64 bits (needs R·(q − 1) < 2^64): use fewer ranks");
    bool bad = false;
    for (std::size_t i = 0; i < n; ++i) bad = bad || data[i] >= q;
    if (R > 1) bad = c.allreduce_max(bad ? 1 : 0) != 0;  // every rank refuses together
    if (bad) throw std::invalid_argument("exact reduction: a residue not below its modulus (on some rank)");
    if (R == 1) return;
    c.allreduce_sum(data, n);
    for (std::size_t i = 0; i < n; ++i) data[i] %= q;
}

}  // namespace bt::dist
