// bt_train: BlindTuner's encrypted fine-tuning. With no command, the whole flow in one
// process; with a command, one step of the client/server flow (keygen, encrypt, train,
// validate, decrypt, evaluate, infer). Option parsing and dispatch only.
//
// Exit status: 0 done; 2 refused before any work (a bad option or value, a file that is
// missing or of the wrong kind, a plan that cannot work, a forecast above the memory);
// 1 failed while working.
#include "commands.hpp"

#include "bt/app/args.hpp"

#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they happen, also in a pipe
    const bool has_command = argc >= 2 && argv[1][0] != '-';
    const std::string cmd = has_command ? argv[1] : "";
    const std::string who = has_command ? "bt_train " + cmd : "bt_train";
    try {
        if (cmd == "help") return btcli::help(argc >= 3 ? argv[2] : "");
        if (!has_command) return btcli::run_main(argc, argv);
        const int rc = btcli::run_command(cmd, argc, argv);
        if (rc == -1)
            throw bt::app::UsageError("unknown command '" + cmd +
                                      "': one of keygen, encrypt, train, validate, decrypt, evaluate, infer "
                                      "(bt_train help)");
        return rc;
    } catch (const bt::app::UsageError& e) {  // refused before any work
        std::cerr << who << ": " << e.what() << "\n(" << who << " --help lists the options)\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << who << ": error: " << e.what() << "\n";
        return 1;
    }
}
