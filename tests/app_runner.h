// Running the built apps (bin/mrc-*, next to the test binaries) as a user would, for the *_app tests:
// exit code, standard output and standard error of one command line.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace mrc::test {

struct AppRun {
  int code = -1;   // exit status; -1 when the process did not exit normally
  std::string out, err;
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// 'path' with single quotes, for a shell command line.
inline std::string quoted(const std::filesystem::path& p) {
  std::string s = "'";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "'" + string
  s += p.string();
  s += '\'';
  return s;
}

inline std::filesystem::path app_path(const std::string& name) {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path() / name;
}

// Runs a shell command line; its output is captured through files in `scratch`.
inline AppRun run_app_command(std::string cmd, const std::filesystem::path& scratch) {
  const std::filesystem::path out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  cmd += " >";
  cmd += quoted(out);
  cmd += " 2>";
  cmd += quoted(err);
  const int status = std::system(cmd.c_str());
  AppRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// Runs `app args` (args: shell words, already quoted where needed).
inline AppRun run_app(const std::string& app, const std::string& args, const std::filesystem::path& scratch) {
  std::string cmd = quoted(app_path(app));
  cmd += ' ';
  cmd += args;
  return run_app_command(std::move(cmd), scratch);
}

}  // namespace mrc::test
