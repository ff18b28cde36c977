// mrc-parity: our Mask R-CNN against torchvision's on a reference file written by
// tests/fixtures/test_maskrcnn_parity.py (scripts/parity runs both). Prints one line per comparison and
// exits 0 when all hold, 1 when one fails, 2 on bad input.
#include <CLI/CLI.hpp>

#include <iostream>

#include "models/maskrcnn/parity.h"

int main(int argc, char** argv) {
  CLI::App app{"Mask R-CNN parity with torchvision (reference from tests/fixtures/test_maskrcnn_parity.py)"};
  std::string ref;
  mrc::maskrcnn::ParityOptions o;
  bool eval_only = false, train_only = false;
  app.add_option("--ref", ref, "reference safetensors file")->required();
  app.add_flag("--eval-only", eval_only, "only the inference pass");
  app.add_flag("--train-only", train_only, "only the training pass");
  app.add_flag("--verbose", o.verbose, "one line per parameter gradient");
  app.add_option("--dump", o.dump_path, "save our intermediates and gradients to this safetensors file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "mrc-parity: " << e.what() << " (see --help)" << std::endl;
    return 2;
  }
  o.eval = !train_only;
  o.train = !eval_only;
  try {
    const auto checks = mrc::maskrcnn::run_parity(ref, o, &std::cout);
    int failed = 0;
    for (const auto& c : checks) failed += !c.pass;
    std::cout << (failed ? "PARITY FAILED: " : "PARITY OK: ") << checks.size() - failed << "/" << checks.size()
              << " checks hold" << std::endl;
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "mrc-parity: " << e.what() << std::endl;
    return 2;
  }
}
