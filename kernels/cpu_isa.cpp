// The CPU path choice (see cpu_isa.h).
#include "kernels/cpu_isa.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mrc::cpu {

namespace {

bool has_avx512() {
#if defined(__GNUC__) && defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

bool has_avx2() {
#if defined(__GNUC__) && defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

CpuIsa from_environment() {
  const char* env = std::getenv("MRC_CPU_ISA");
  if (!env || !*env) return cpu_isa_best();
  const std::string name(env);
  CpuIsa isa;
  if (name == "generic")
    isa = CpuIsa::Generic;
  else if (name == "avx2")
    isa = CpuIsa::Avx2;
  else if (name == "avx512")
    isa = CpuIsa::Avx512;
  else
    throw std::runtime_error("MRC_CPU_ISA: \"" + name + "\" is not a CPU path; expected generic, avx2 or avx512");
  if (!cpu_supports(isa))
    throw std::runtime_error(std::string("MRC_CPU_ISA: this CPU cannot execute the ") + cpu_isa_name(isa) +
                             " path (best available: " + cpu_isa_name(cpu_isa_best()) + ")");
  return isa;
}

// -1: not chosen yet; otherwise the CpuIsa value.
std::atomic<int> g_isa{-1};

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Generic: return "generic";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Avx512: return "avx512";
  }
  return "?";
}

bool cpu_supports(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Generic: return true;
    case CpuIsa::Avx2: return has_avx2();
    case CpuIsa::Avx512: return has_avx2() && has_avx512();
  }
  return false;
}

CpuIsa cpu_isa_best() {
  static const CpuIsa best = cpu_supports(CpuIsa::Avx512) ? CpuIsa::Avx512
                             : cpu_supports(CpuIsa::Avx2) ? CpuIsa::Avx2
                                                          : CpuIsa::Generic;
  return best;
}

CpuIsa cpu_isa() {
  int v = g_isa.load(std::memory_order_acquire);
  if (v < 0) {
    static const CpuIsa chosen = from_environment();
    int expected = -1;
    g_isa.compare_exchange_strong(expected, int(chosen));
    v = g_isa.load(std::memory_order_acquire);
  }
  return CpuIsa(v);
}

void set_cpu_isa(CpuIsa isa) {
  if (!cpu_supports(isa))
    throw std::runtime_error(std::string("set_cpu_isa: this CPU cannot execute the ") + cpu_isa_name(isa) + " path");
  g_isa.store(int(isa), std::memory_order_release);
}

}  // namespace mrc::cpu
