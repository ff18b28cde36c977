// How far our result may sit from a float64 torch reference: the one rule of the suite for results of
// float32 and float64 arithmetic that are sums of products (convolutions, matrix products, whole networks).
//
// Why float64 references: torch 1.13 computes float32 convolutions through oneDNN, which picks its kernels
// (and so its summation order and its use of FMA) by the CPU's instruction set; its float32 results on an
// AVX2 machine and on an AVX-512 machine differ by more than any fixed tolerance can absorb (ResNet-50
// gradients by up to 1.5 % on AVX2). In float64 torch takes its own im2col + reference-BLAS path, the same on
// every machine, and its own rounding is ~1e-16: it stands for the exact result.
//
// The rule for one element (Higham and Mary, "A new approach to probabilistic rounding error analysis",
// SIAM J. Sci. Comput. 41(5), 2019, theorem 3.1): a sum of K products computed in floating point with unit
// roundoff u, in any order, with or without FMA, is within
//     lambda * sqrt(K) * u * M,      M = sum of |term_i|
// of the exact sum, except with probability at most 2K exp(-lambda^2 (1-u)^2 / 2): each of the <= K roundings a
// term goes through is a relative error within u, and independent roundings add like a random walk, so
// sqrt(K) replaces the worst case's K. M, not |result|, is the scale, because cancellation leaves the result
// small while the roundings of its large terms remain. The fixture computes K and M of every element exactly
// in float64 (torch_ref.Recorder.record_multilinear: the op on ones and on |inputs|).
//   lambda = 6: failure probability <= 2K e^-18 ~ 3e-8 K per element, and in practice far less (the theorem
//   assumes every term is as large as the largest). A wrong result misses by a whole term or more (~M/K),
//   which the float64 run (u = 2^-53) catches for any K; the float32 run catches it while K is below ~1e4.
//
// Our float32 result against the float64 reference: bound(K, M, u32) (the reference's own error, u64, is
// below float32's resolution). Our float64 result against it: both sides round, bound(K, M, u64) each.
#pragma once
#include <algorithm>
#include <cmath>

namespace mrc::test {

constexpr double kUnitRoundoff32 = 0x1p-24;  // float32: 2^-24, half the distance from 1 to the next float
constexpr double kUnitRoundoff64 = 0x1p-53;
constexpr double kRoundingLambda = 6;

// Bound on the rounding error of a sum of `terms` products whose absolute values add up to `magnitude`.
inline double rounding_bound(double terms, double magnitude, double unit_roundoff) {
  return kRoundingLambda * std::sqrt(std::max(terms, 1.0)) * unit_roundoff * magnitude;
}

// A whole network is not one sum of products, so it gets no per-element bound; its results are compared as
// relative errors in the 2-norm. The rule above read backwards says a float32 sum of K products is an exact
// sum over weights perturbed by about sqrt(K) * u32 relative. The fixture reruns the network in float64 with
// every conv and fc weight so perturbed (Gaussian, three draws) and records per result the largest relative
// change, `spread`: the float32 error that the layers' rounding and the network's own conditioning imply.
// A run with unit roundoff u must be within
//     lambda * spread * u / u32
// of the reference (a float64 run: plus the reference's own, the same with u64).
// Why not lambda * sqrt(K_1 + K_2 + ...) * u32, the layers' roundings added in quadrature: that assumes the
// network does not magnify them, and a ReLU network does where an input near zero flips sign and switches a
// gradient path. test_resnet's early gradients move by up to 0.5 % under the perturbation above; our float32
// gradients stay within 3e-6 of the reference on the avx2 and avx512 paths but reach 3e-4 on the generic one
// (no FMA), torch's oneDNN float32 ones 2e-4 on AVX-512 and 1.5 % on AVX2.
inline double network_rounding_bound(double spread, double unit_roundoff) {
  return kRoundingLambda * spread * unit_roundoff / kUnitRoundoff32;
}

}  // namespace mrc::test
