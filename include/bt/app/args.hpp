// Command-line options, declared once per program or subcommand: parsing, the --help text
// and the check of every value come from the same table. Used by bt_train (every
// subcommand), bt_bench and bt_pretrain.
//
// Every value is checked where it is parsed: counts are decimal integers in a stated
// range (no sign, no overflow), reals are finite and in a stated range, a flag that needs
// a value and has none, an unknown flag, or a flag given twice is refused. A refusal is a
// UsageError: the programs print it with the program's name and exit with status 2,
// before any work is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bt::app {

// The user's input cannot be used (a bad option or value, an impossible combination, a
// file that is missing or of the wrong kind): exit status 2, nothing computed.
struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Parse one value; throw UsageError naming the flag, the range and what was given.
std::size_t parse_count(const std::string& flag, const std::string& v, std::size_t min, std::size_t max);
double parse_real(const std::string& flag, const std::string& v, double min, double max, bool min_open = false);

class Options {
public:
    // `usage` is the synopsis line ("bt_train train [options]"), `about` a paragraph.
    Options(std::string program, std::string usage, std::string about);

    Options& flag(const std::string& name, const std::string& help, bool* out);
    Options& text(const std::string& name, const std::string& metavar, const std::string& help, std::string* out);
    Options& count(const std::string& name, const std::string& metavar, const std::string& help, std::size_t* out,
                   std::size_t min, std::size_t max);
    Options& count64(const std::string& name, const std::string& metavar, const std::string& help,
                     std::uint64_t* out);
    // A finite real in [min, max] (or (min, max] with min_open).
    Options& real(const std::string& name, const std::string& metavar, const std::string& help, double* out,
                  double min, double max, bool min_open = false);
    // --threads N: 1 <= N <= kMaxThreads; applied to the global pool after parsing.
    Options& threads();
    // Any other value: `apply` parses it and throws UsageError if it is bad.
    Options& custom(const std::string& name, const std::string& metavar, const std::string& help,
                    std::function<void(const std::string&)> apply, const std::string& default_text = "");
    // Words that are not options (e.g. benchmark groups); without this, any is refused.
    Options& positional(const std::string& metavar, std::vector<std::string>* out);
    // An option that is refused with a reason (e.g. a secret key given to the server).
    Options& forbid(const std::string& name, const std::string& reason);
    // A paragraph appended to --help.
    Options& epilog(const std::string& text);

    // Parses argv[first..argc). Returns false if --help or --version was asked for (the
    // text is printed on stdout; the caller exits 0). Throws UsageError.
    bool parse(int argc, char** argv, int first = 1);
    bool given(const std::string& name) const;
    std::string help() const;
    const std::string& program() const { return program_; }

private:
    struct Opt {
        std::string name, metavar, help, default_text;
        bool takes_value = false;
        std::function<void(const std::string&)> apply;
        bool seen = false;
    };
    Opt* find(const std::string& name);
    std::string program_, usage_, about_, epilog_, positional_metavar_;
    std::vector<Opt> opts_;
    std::vector<std::pair<std::string, std::string>> forbidden_;
    std::vector<std::string>* positional_ = nullptr;
    unsigned threads_ = 0;
};

}  // namespace bt::app
