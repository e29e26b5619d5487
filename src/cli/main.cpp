// bt_train: BlindTuner's encrypted fine-tuning. With no command, the whole flow in one
// process; with a command, one step of the client/server flow (keygen, encrypt, train,
// validate, decrypt, evaluate, infer). Option parsing and dispatch only.
//
// Exit status: 0 done; 2 refused before any work (a bad option or value, a file that is
// missing or of the wrong kind, a plan that cannot work, a forecast above the memory);
// 1 failed while working.
#include "commands.hpp"

#include "bt/app/args.hpp"
#include "bt/dist/comm.hpp"

#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

// Under mpirun (make MPI=1) only the server's commands run on several ranks; the others
// hold the secret key or the client's files, which no rank of a server may.
int dispatch(int argc, char** argv, const std::string& cmd, bool has_command) {
    const bt::dist::Comm& comm = bt::dist::Comm::world();
    if (const int n = bt::dist::launched_without_mpi(); n > 1 && (cmd == "train" || cmd == "infer"))
        throw bt::app::UsageError("started by an MPI launcher with " + std::to_string(n) +
                                  " ranks, but this process sees itself alone: every copy would train by itself and "
                                  "overwrite the others' files. Run build-mpi/bt_train (make MPI=1) under the mpirun "
                                  "of the MPI it was linked with, or run one process");
    if (comm.size() > 1 && cmd != "train" && cmd != "infer" && cmd != "help")
        throw bt::app::UsageError(std::string(has_command ? "`bt_train " + cmd + "`" : "the one-process run") +
                                  " runs as one process (it holds the secret key or the client's files); under "
                                  "mpirun only the server's `train` and `infer` run on several ranks");
    if (cmd == "help") return comm.root() ? btcli::help(argc >= 3 ? argv[2] : "") : 0;
    if (!has_command) return btcli::run_main(argc, argv);
    const int rc = btcli::run_command(cmd, argc, argv);
    if (rc == -1)
        throw bt::app::UsageError("unknown command '" + cmd +
                                  "': one of keygen, encrypt, train, validate, decrypt, evaluate, infer "
                                  "(bt_train help)");
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they happen, also in a pipe
    bt::dist::init(&argc, &argv);
    const bool has_command = argc >= 2 && argv[1][0] != '-';
    const std::string cmd = has_command ? argv[1] : "";
    const std::string who = has_command ? "bt_train " + cmd : "bt_train";
    int rc = 0;
    const bt::dist::Comm& comm = bt::dist::Comm::world();
    // Errors name their rank when there are several; a rank that fails ends the whole job
    // (MPI_Abort) so that no other rank waits for it forever. Checkpoints are written
    // atomically, so `--resume` continues from the newest complete one with any rank count.
    const std::string where = comm.size() > 1 ? " (rank " + std::to_string(comm.rank()) + " of " +
                                                    std::to_string(comm.size()) + ")" : "";
    try {
        rc = dispatch(argc, argv, cmd, has_command);
    } catch (const bt::app::UsageError& e) {  // refused before any work
        std::cerr << who << where << ": " << e.what() << "\n(" << who << " --help lists the options)\n";
        rc = 2;
    } catch (const std::exception& e) {
        std::cerr << who << where << ": error: " << e.what() << "\n";
        rc = 1;
    }
    if (rc != 0 && comm.size() > 1) {
        std::cerr << std::flush;
        comm.abort(rc);
    }
    bt::dist::finalize();
    return rc;
}
