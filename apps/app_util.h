// Shared by the apps: the error contract every mrc-* command keeps. A usage error or a failure is one
// line "mrc-NAME: message" on stderr and exit code 2; --help prints the usage and exits 0.
#pragma once
#include <cstdio>
#include <exception>
#include <optional>

#include <CLI/CLI.hpp>

namespace mrc::apps {

// Parses the command line. Returns nothing when the app should go on, else the exit code to return
// (0 after --help or --version, 2 after a usage error).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const char* name) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 2;
  }
  return std::nullopt;
}

// Runs the app's work and returns its exit code; an exception becomes one line on stderr and code 2.
template <typename F>
int run_reporting_errors(const char* name, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 2;
  }
}

}  // namespace mrc::apps
