// gemm() built for AVX-512 inside a library compiled for x86-64-v3, used only where the CPU has it
// (gemm_dispatch.cpp decides, from cpu_isa()). Eigen's AVX-512 kernel runs about twice as fast as its AVX2 one here.
//
// How: every standard header Eigen needs is included first, with the baseline target, so no inline
// standard-library code gets AVX-512 instructions. Then the AVX-512 target is switched on for the
// rest of the file and the feature macros Eigen keys on are defined (the target pragma does not
// define them), and Eigen is included under another namespace name, so its AVX-512 template
// instances can never be merged with the AVX2 ones other files instantiate.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX512F__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,avx512cd")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12, inside Eigen's AVX-512 packet code
#define __AVX512F__ 1
#define __AVX512DQ__ 1
#define __AVX512VL__ 1
#define __AVX512BW__ 1
#define __AVX512CD__ 1
#define MRC_GEMM_AVX512_PRAGMA 1
#endif

#define Eigen mrc_eigen_avx512
#include <Eigen/Core>

#define MRC_GEMM_NS gemm_avx512
#include "kernels/gemm/gemm_eigen.h"

#ifdef MRC_GEMM_AVX512_PRAGMA
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
