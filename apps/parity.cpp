// mrc-parity: our Mask R-CNN against torchvision's on a reference file written by
// tests/fixtures/test_maskrcnn_parity.py (scripts/parity runs both). Prints the failed and relaxed
// comparisons (every one with --verbose), a count per part, and exits 0 when all hold, 1 when one fails,
// 2 on bad input.
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

#include "parity/maskrcnn_parity.h"

int main(int argc, char** argv) {
  CLI::App app{"Mask R-CNN parity with torchvision (reference from tests/fixtures/test_maskrcnn_parity.py)"};
  std::string ref;
  mrc::parity::ParityOptions o;
  bool eval_only = false, train_only = false, no_trajectory = false;
  app.add_option("--ref", ref, "reference safetensors file")->required();
  app.add_flag("--eval-only", eval_only, "only the inference pass");
  app.add_flag("--train-only", train_only, "only the training pass (no inference, no trajectories)");
  app.add_flag("--no-trajectory", no_trajectory, "skip the SGD/Adam trajectories the reference holds");
  app.add_flag("--verbose", o.verbose, "one line per parameter gradient");
  app.add_option("--dump", o.dump_path, "save our intermediates, gradients and trajectories to this safetensors file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "mrc-parity: " << e.what() << " (see --help)" << std::endl;
    return 2;
  }
  o.eval = !train_only;
  o.train = !eval_only;
  o.trajectory = !eval_only && !train_only && !no_trajectory;
  try {
    const auto checks = mrc::parity::run_parity(ref, o, &std::cout);
    int failed = 0;
    std::map<std::string, std::pair<int, int>> parts;  // by the name's first component: held, made
    for (const auto& c : checks) {
      failed += !c.pass;
      auto& [held, made] = parts[c.name.substr(0, c.name.find('.'))];
      held += c.pass;
      ++made;
    }
    for (const auto& [part, n] : parts) std::cout << "  " << part << ": " << n.first << "/" << n.second << " hold" << std::endl;
    std::cout << (failed ? "PARITY FAILED: " : "PARITY OK: ") << checks.size() - failed << "/" << checks.size()
              << " checks hold" << std::endl;
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "mrc-parity: " << e.what() << std::endl;
    return 2;
  }
}
