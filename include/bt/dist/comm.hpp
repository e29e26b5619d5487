// Communication between the ranks of a data-parallel server (issue: beyond one machine).
//
// Every MPI call of BlindTuner is in src/dist/comm.cpp, behind this interface. The default
// build has no MPI: a Comm is then one process (rank 0 of 1) and every collective is the
// identity. `make MPI=1` compiles that file with mpicxx and -DBT_MPI; the same programs
// then run under `mpirun -np R`, where Comm::world() spans the R ranks.
//
// Only ciphertexts and public metadata travel between ranks; MPI itself neither encrypts
// nor authenticates (README: run it on a private network).
//
// Exact reduction of ciphertexts. A sum of ciphertexts is a sum of residues mod q_i per
// coefficient. Each rank contributes residues in [0, q_i); MPI_SUM on unsigned 64-bit
// integers adds R of them without overflow iff R·(q_i − 1) < 2^64, and one reduction mod
// q_i afterwards gives exactly what a chain of modular additions gives, in any order of the
// ranks. `reduction_safe` is that condition; allreduce_mod refuses (std::invalid_argument,
// on every rank alike, before any communication) when it does not hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bt::dist {

class Comm {
public:
    // Every rank of the job (the whole process group under mpirun; one process otherwise).
    static Comm& world();
    // This process alone (a one-rank reference beside a distributed run, in tests).
    static Comm& self();
    Comm(const Comm&) = delete;
    Comm& operator=(const Comm&) = delete;
    ~Comm();

    int rank() const { return rank_; }
    int size() const { return size_; }
    bool root() const { return rank_ == 0; }
    // Ranks of this communicator on the same machine (shared memory), and this one's index
    // among them: the first on a node builds node-local files (the key cache) for the others.
    int node_rank() const { return node_rank_; }
    int node_size() const { return node_size_; }

    void barrier() const;
    void node_barrier() const;  // only the ranks of this node
    // Root's bytes to every rank (the others' vectors are replaced).
    void bcast(std::vector<std::uint8_t>& bytes, int root = 0) const;
    std::uint64_t bcast_u64(std::uint64_t v, int root = 0) const;
    // The same for a broadcast the other ranks may wait long for: they poll and sleep
    // instead of spinning a core (every rank must use this form for that broadcast).
    std::uint64_t bcast_u64_waiting(std::uint64_t v, int root = 0) const;
    // Every rank's bytes at `root`, in rank order (empty on the other ranks).
    std::vector<std::vector<std::uint8_t>> gather(const std::vector<std::uint8_t>& mine, int root = 0) const;
    // Wrap-around sums of unsigned 64-bit words, in place, on every rank.
    void allreduce_sum(std::uint64_t* v, std::size_t n) const;
    std::uint64_t allreduce_min(std::uint64_t v) const;
    std::uint64_t allreduce_max(std::uint64_t v) const;
    // Bytes this rank has sent and received through the collectives above (payload only).
    std::uint64_t bytes_moved() const { return bytes_; }
    // Ends the whole job at once (every rank), with `code` as exit status.
    [[noreturn]] void abort(int code) const;

    struct Impl;  // the MPI communicators (opaque here)

private:
    explicit Comm(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    int rank_ = 0, size_ = 1, node_rank_ = 0, node_size_ = 1;
    mutable std::uint64_t bytes_ = 0;
};

// Call first thing in main (MPI_Init_thread under -DBT_MPI) and before returning.
void init(int* argc, char*** argv);
void finalize();
// Whether this program was built with MPI (make MPI=1).
bool built_with_mpi();
// The process seems to have been started by an MPI launcher (its environment has a rank
// count above 1) although the program was built without MPI: every copy would run as
// rank 0 of 1 and they would overwrite each other's files. Returns the launcher's rank
// count, or 0.
int launched_without_mpi();

// R·(q − 1) < 2^64: R residues below q sum without overflow.
bool reduction_safe(std::size_t ranks, std::uint64_t q);
// data[0..n) are residues mod q on every rank; afterwards every rank holds the sum mod q.
void allreduce_mod(const Comm& c, std::uint64_t* data, std::size_t n, std::uint64_t q);

}  // namespace bt::dist
