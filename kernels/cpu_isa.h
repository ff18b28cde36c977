// Which instruction-set path the CPU kernels take: the best the machine has, or the one named by the
// environment variable MRC_CPU_ISA=generic|avx2|avx512 (read once, on first use). Forcing a path lets
// one machine run the suite through every kernel build it can execute: CI runs the numerically
// sensitive tests a second time on the path the machine would not pick by itself.
//
// "generic" is the GEMM built for plain x86-64 (SSE2, no FMA); the rest of the library keeps its
// x86-64-v3 baseline, so the switch changes the rounding of every product without changing what runs.
#pragma once

namespace mrc::cpu {

enum class CpuIsa { Generic, Avx2, Avx512 };

const char* cpu_isa_name(CpuIsa isa);
bool cpu_supports(CpuIsa isa);
// The best path this CPU can execute.
CpuIsa cpu_isa_best();
// The path in use: MRC_CPU_ISA when set (std::runtime_error naming the variable when it is not one of
// generic/avx2/avx512, or names a path this CPU cannot execute), else cpu_isa_best(). set_cpu_isa()
// overrides both (tests); it throws for a path the CPU lacks.
CpuIsa cpu_isa();
void set_cpu_isa(CpuIsa isa);

}  // namespace mrc::cpu
