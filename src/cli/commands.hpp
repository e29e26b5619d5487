// bt_train's commands: option tables and dispatch only (the work is in bt/app/).
#pragma once

#include <string>

namespace btcli {

// Each returns the exit status; UsageError and other exceptions propagate to main.
int run_main(int argc, char** argv);      // the one-process run (no command)
int run_command(const std::string& cmd, int argc, char** argv);  // -1: unknown command
// `bt_train help [COMMAND]`.
int help(const std::string& topic);

}  // namespace btcli
