// Normalization: batch_norm (training statistics and running-stat updates, eval), frozen_batch_norm
// and group_norm. Values by hand, float64 gradient checks (several seeds, a non-contiguous input),
// torch parity (tests/fixtures/test_norm.py) and errors for bad arguments.
//
// The torch references here are float32 (and float64 for the _f64 cases): torch 1.13 computes batch_norm,
// FrozenBatchNorm2d and group_norm with ATen's own kernels, not oneDNN, and the fixture step runs torch with
// ATEN_CPU_CAPABILITY=avx2 (CMakeLists.txt), so those kernels are their AVX2 build on every machine (our
// library needs AVX2 anyway). Checked on an AVX-512 machine: torch picks the AVX2 build there by itself
// ("CPU capability usage: AVX2"), the fixture written with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 is
// byte-identical to the default one, while ATEN_CPU_CAPABILITY=avx512 changes 46 of its 172 tensors (gradient
// sums) and =default 68 (outputs too).
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "tensor/serialize.h"
#include "test_util.h"
#include "torch_compare.h"

using namespace mrc;
using test::gradcheck;
using test::GradcheckOptions;
using test::rand_leaf;
using test::rand_leaf_transposed;

namespace {
Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s); }
void check_values(const Tensor& got, const std::vector<double>& want, double tol = 1e-12) {
  const auto g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(want[i]).epsilon(tol).scale(1));
}
}  // namespace

TEST_CASE("batch_norm by hand") {
  // one channel holding 1, 2 (sample 0) and 3, 4 (sample 1): mean 2.5, biased variance 1.25
  const Tensor x = f64({1, 2, 3, 4}, {2, 1, 2});
  Tensor rm = f64({0}, {1}), rv = f64({1}, {1});
  const double s = 1 / std::sqrt(1.25 + 1e-5);
  check_values(batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5), {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s});
  // running stats: 0.9 * old + 0.1 * batch, with the unbiased variance 1.25 * 4 / 3
  check_values(rm, {0.25});
  check_values(rv, {0.9 + 0.1 * 5.0 / 3.0});
  // affine on top: y * 2 + 3
  check_values(batch_norm(x, f64({2}, {1}), f64({3}, {1}), Tensor(), Tensor(), true, 0.1, 1e-5),
               {3 - 3 * s, 3 - s, 3 + s, 3 + 3 * s});
  // eval uses the running stats: (x - 1) / sqrt(4) * 2 + 3 = x + 2, and leaves them alone
  Tensor em = f64({1}, {1}), ev = f64({4}, {1});
  check_values(batch_norm(x, f64({2}, {1}), f64({3}, {1}), em, ev, false, 0.1, 0.0), {3, 4, 5, 6});
  check_values(em, {1});
  check_values(ev, {4});
  // per channel: two channels with different statistics do not mix
  const Tensor x2 = f64({0, 2, 10, 30}, {1, 2, 2});  // channel 0: {0, 2}, channel 1: {10, 30}
  check_values(batch_norm(x2, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0), {-1, 1, -1, 1});
}

TEST_CASE("batch_norm gradients by hand") {
  // d/dbias = sum(dy), d/dweight = sum(dy * xhat); with dy = 1 the input gradient of a training
  // batch norm vanishes (the output always sums to bias * count)
  const Tensor x = f64({1, 2, 3, 4}, {2, 1, 2}).requires_grad_();
  const Tensor w = f64({2}, {1}).requires_grad_(), b = f64({3}, {1}).requires_grad_();
  sum(batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 0.0)).backward();
  check_values(b.grad(), {4});
  check_values(w.grad(), {0}, 1e-12);
  for (double g : x.grad().to_vector<double>()) CHECK(std::abs(g) < 1e-12);
  // eval: dy * w / sqrt(rv + eps) everywhere
  const Tensor xe = f64({1, 2, 3, 4}, {2, 1, 2}).requires_grad_();
  sum(batch_norm(xe, f64({2}, {1}), Tensor(), f64({1}, {1}), f64({4}, {1}), false, 0.1, 0.0)).backward();
  check_values(xe.grad(), {1, 1, 1, 1});
}

TEST_CASE("frozen_batch_norm and group_norm by hand") {
  const Tensor x = f64({1, 2, 3, 4}, {1, 1, 2, 2}).requires_grad_();
  const Tensor w = f64({2}, {1}).requires_grad_(), b = f64({3}, {1}).requires_grad_();
  const Tensor y = frozen_batch_norm(x, w, b, f64({1}, {1}), f64({4}, {1}), 0.0);
  check_values(y, {3, 4, 5, 6});  // (x - 1) * 2 / 2 + 3
  sum(y).backward();
  check_values(x.grad(), {1, 1, 1, 1});
  CHECK(!w.grad().defined());  // frozen: no gradient to the parameters
  CHECK(!b.grad().defined());

  // channels {1, 2} and {3, 4} form two groups of one sample: each normalizes to -1, 1
  const Tensor g = f64({1, 2, 3, 4}, {1, 4, 1, 1});
  check_values(group_norm(g, 2, Tensor(), Tensor(), 0.0), {-1, 1, -1, 1});
  // one group over all four: mean 2.5, variance 1.25
  const double s = 1 / std::sqrt(1.25);
  check_values(group_norm(g, 1, f64({1, 1, 2, 2}, {4}), f64({0, 0, 0, 1}, {4}), 0.0), {-1.5 * s, -0.5 * s, s, 3 * s + 1});
}

TEST_CASE("gradcheck: normalization") {
  for (uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    Generator gen(seed);
    const GradcheckOptions opt{.seed = seed};
    const Tensor x = rand_leaf({3, 4, 3, 2}, gen), x2 = rand_leaf({5, 3}, gen);
    const Tensor w = rand_leaf({4}, gen, 0.5, 1.5), b = rand_leaf({4}, gen), w3 = rand_leaf({3}, gen, 0.5, 1.5);
    const Tensor rm = Tensor::uniform({4}, -0.2, 0.2, &gen, DType::Float64);
    const Tensor rv = Tensor::uniform({4}, 0.5, 1.5, &gen, DType::Float64);
    gradcheck([](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true); }, {x, w, b}, opt);
    gradcheck([](const std::vector<Tensor>& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-3); },
              {x}, opt);
    gradcheck([&](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], Tensor(), Tensor(), Tensor(), true); }, {x2, w3}, opt);
    gradcheck([&](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false); }, {x, w, b}, opt);
    gradcheck([&](const std::vector<Tensor>& v) { return frozen_batch_norm(v[0], w.detach(), b.detach(), rm, rv); }, {x}, opt);
    for (int64_t groups : {1, 2, 4})
      gradcheck([groups](const std::vector<Tensor>& v) { return group_norm(v[0], groups, v[1], v[2]); }, {x, w, b}, opt);
    gradcheck([](const std::vector<Tensor>& v) { return group_norm(v[0], 2, Tensor(), Tensor()); }, {x}, opt);
  }
  Generator gen(7);  // non-contiguous input
  const Tensor xt = rand_leaf_transposed({2, 3, 4, 3}, gen), w = rand_leaf({3}, gen, 0.5, 1.5), b = rand_leaf({3}, gen);
  gradcheck([](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true); }, {xt, w, b});
  const Tensor rm = Tensor::uniform({3}, -0.2, 0.2, &gen, DType::Float64), rv = Tensor::uniform({3}, 0.5, 1.5, &gen, DType::Float64);
  gradcheck([&](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false); }, {xt, w, b});
  gradcheck([](const std::vector<Tensor>& v) { return group_norm(v[0], 3, v[1], v[2]); }, {xt, w, b});
}

TEST_CASE("normalization equals torch") {
  const auto ref = load_tensors(test::fixture("norm.safetensors"));
  for (const char* t : {"", "_f64", "_2d", "_big"}) {
    const std::string tag = t, bn = "bn" + tag;
    CAPTURE(tag);
    const double fwd = tag == "_f64" ? 1e-12 : 1e-5, bwd = tag == "_f64" ? 1e-12 : 1e-4;
    const std::vector<std::pair<std::string, std::string>> in{{"x", bn + ".x"}, {"weight", bn + ".weight"}, {"bias", bn + ".bias"}};
    for (double mom : {0.1, 0.3}) {
      const std::string c = "bn_train" + tag + (mom == 0.1 ? "_m0.1" : "_m0.3");
      Tensor rm = ref.at(bn + ".running_mean").clone(), rv = ref.at(bn + ".running_var").clone();
      test::against_torch(ref, c, in, [&](auto& v) { return batch_norm(v[0], v[1], v[2], rm, rv, true, mom, 1e-5); }, fwd, bwd);
      test::expect_close(rm, ref.at(c + ".running_mean"), fwd, c + " running_mean");
      test::expect_close(rv, ref.at(c + ".running_var"), fwd, c + " running_var");
    }
    test::against_torch(ref, "bn_train_noaffine" + tag, {{"x", bn + ".x"}},
                        [&](auto& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-3); }, fwd, bwd);
    test::against_torch(ref, "bn_eval" + tag, in, [&](auto& v) {
      return batch_norm(v[0], v[1], v[2], ref.at(bn + ".running_mean"), ref.at(bn + ".running_var"), false, 0.1, 1e-5);
    }, fwd, bwd);
    if (tag != "_2d")
      test::against_torch(ref, "frozen_bn" + tag, {{"x", bn + ".x"}}, [&](auto& v) {
        return frozen_batch_norm(v[0], ref.at(bn + ".weight"), ref.at(bn + ".bias"), ref.at(bn + ".running_mean"),
                                 ref.at(bn + ".running_var"));
      }, fwd, bwd);
  }
  for (auto [t, groups] : {std::pair{"", 4}, {"_one", 1}, {"_each", 6}, {"_f64", 3}, {"_heads", 32}}) {
    const std::string tag = t, gn = "gn" + tag;
    CAPTURE(tag);
    const double fwd = tag == "_f64" ? 1e-12 : 1e-5, bwd = tag == "_f64" ? 1e-12 : 1e-4;
    const int64_t g = groups;
    test::against_torch(ref, "group_norm" + tag, {{"x", gn + ".x"}, {"weight", gn + ".weight"}, {"bias", gn + ".bias"}},
                        [&](auto& v) { return group_norm(v[0], g, v[1], v[2], 1e-5); }, fwd, bwd);
    test::against_torch(ref, "group_norm_noaffine" + tag, {{"x", gn + ".x"}},
                        [&](auto& v) { return group_norm(v[0], g, Tensor(), Tensor(), 1e-5); }, fwd, bwd);
  }
}

TEST_CASE("batch_norm float32 forward and running statistics equal torch bit for bit") {
  // The rounding of torch 1.13's CPU kernel step by step (norm.cpp); a deviation here compounds over the 53
  // batch norms of a ResNet-50 in training mode. Bit-exactness is possible because that kernel is ATen's AVX2
  // build on every machine (see the top of this file), and our code's rounding does not depend on
  // MRC_CPU_ISA (which switches the GEMM only).
  const auto ref = load_tensors(test::fixture("norm.safetensors"));
  for (const char* t : {"", "_big"}) {  // 4-D input; 2-D input takes another torch kernel (see norm.cpp)
    const std::string tag = t, bn = "bn" + tag;
    CAPTURE(tag);
    const Tensor x = ref.at(bn + ".x"), w = ref.at(bn + ".weight"), b = ref.at(bn + ".bias");
    for (double mom : {0.1, 0.3}) {
      const std::string c = "bn_train" + tag + (mom == 0.1 ? "_m0.1" : "_m0.3");
      Tensor rm = ref.at(bn + ".running_mean").clone(), rv = ref.at(bn + ".running_var").clone();
      CHECK(batch_norm(x, w, b, rm, rv, true, mom, 1e-5).to_vector<float>() == ref.at(c + ".out").to_vector<float>());
      CHECK(rm.to_vector<float>() == ref.at(c + ".running_mean").to_vector<float>());
      CHECK(rv.to_vector<float>() == ref.at(c + ".running_var").to_vector<float>());
    }
    CHECK(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-3).to_vector<float>() ==
          ref.at("bn_train_noaffine" + tag + ".out").to_vector<float>());
    CHECK(batch_norm(x, w, b, ref.at(bn + ".running_mean"), ref.at(bn + ".running_var"), false, 0.1, 1e-5)
              .to_vector<float>() == ref.at("bn_eval" + tag + ".out").to_vector<float>());
  }
}

TEST_CASE("normalization: bad arguments name the op and the argument") {
  const Tensor x = Tensor::zeros({2, 3, 4, 4});
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: weight must have shape [3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("batch_norm: eval mode needs running_mean"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({1, 3, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("more than one value per channel"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: input must be [N, C, ...]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(frozen_batch_norm(x, Tensor::ones({3}), Tensor(), Tensor::zeros({3}), Tensor::ones({3})),
                       doctest::Contains("frozen_batch_norm"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(frozen_batch_norm(x, Tensor::ones({3}), Tensor::ones({3}), Tensor::zeros({2}), Tensor::ones({3})),
                       doctest::Contains("running_mean must have shape [3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(group_norm(x, 2, Tensor(), Tensor()), doctest::Contains("group_norm: groups (2) must divide the channels (3)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(group_norm(x, 3, Tensor::ones({3}, DType::Float64), Tensor()), doctest::Contains("group_norm"),
                       std::invalid_argument);
}
