// The one doctest main shared by every test binary. Before any case runs it settles what would otherwise
// fail every case the same way, and says so in one line:
//   - the CPU kernel path (MRC_CPU_ISA, kernels/cpu_isa.h): an unknown or unsupported value fails the binary;
//     the path in use is printed, so a log shows which path each run took;
//   - compiled with MRC_CUDA_TEST_MAIN (the tests/cuda/ binaries, CMakeLists.txt): without a visible CUDA
//     device, or in a build without CUDA, the binary exits with kSkipExitCode, which ctest reports as skipped
//     (SKIP_RETURN_CODE), never as passed. MRC_TEST_FAKE_GPU=1 (tests/cuda/cuda_test_util.h) is refused unless
//     MRC_GPU_DRY_RUN=1 is set too: it compares the CPU with itself and must never pass for a GPU run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "kernels/cpu_isa.h"
#include "tensor/device.h"

namespace {

constexpr int kSkipExitCode = 77;  // SKIP_RETURN_CODE of the tests/cuda/ binaries

bool env_is_1(const char* name) {
  const char* v = std::getenv(name);
  return v && std::string(v) == "1";
}

#ifdef MRC_CUDA_TEST_MAIN
// -1 to go on, otherwise the exit code.
int cuda_gate(const char* self) {
  if (env_is_1("MRC_TEST_FAKE_GPU")) {
    if (!env_is_1("MRC_GPU_DRY_RUN")) {
      std::fprintf(stderr,
                   "%s: MRC_TEST_FAKE_GPU=1 compares the CPU with itself; refused unless MRC_GPU_DRY_RUN=1 "
                   "(scripts/gpu-check --dry-run)\n",
                   self);
      return 1;
    }
    if (mrc::built_with_cuda()) {
      std::printf("%s: dry run: MRC_TEST_FAKE_GPU=1, the \"GPU\" side runs on the CPU\n", self);
      return -1;
    }
  }
  if (!mrc::built_with_cuda()) {
    std::printf("%s: skipped: built without CUDA\n", self);
    return kSkipExitCode;
  }
  if (!mrc::cuda_available()) {
    std::printf("%s: skipped: no CUDA device visible (cuda_device_count() == 0)\n", self);
    return kSkipExitCode;
  }
  return -1;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const char* self = argc > 0 ? argv[0] : "test";
  try {
    std::printf("%s: CPU kernel path %s\n", self, mrc::cpu::cpu_isa_name(mrc::cpu::cpu_isa()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", self, e.what());
    return 1;
  }
#ifdef MRC_CUDA_TEST_MAIN
  if (const int code = cuda_gate(self); code >= 0) return code;
#endif
  doctest::Context context(argc, argv);
  return context.run();
}
