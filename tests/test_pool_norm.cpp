// Pooling, resampling and normalization: values by hand, float64 gradient checks, and forward/backward
// parity with torch on random inputs.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "tensor/serialize.h"
#include "test_util.h"
#include "torch_compare.h"

using namespace mrc;
using test::gradcheck;
using test::rand_leaf;

using test::against_torch;
using test::expect_close;

TEST_CASE("max_pool2d and upsampling by hand") {
  Tensor x = Tensor::arange(16, DType::Float32).view({1, 1, 4, 4});
  CHECK(max_pool2d(x, 2, 2).to_vector<float>() == std::vector<float>{5, 7, 13, 15});
  CHECK(max_pool2d(x, 3, 2, 1).to_vector<float>() == std::vector<float>{5, 7, 13, 15});
  // ceil_mode keeps the partial windows that start inside the input: rows/cols {0..2} and {2..3}
  CHECK(max_pool2d(x, 3, 2, 0, 1, true).to_vector<float>() == std::vector<float>{10, 11, 14, 15});
  CHECK(max_pool2d(x, 3, 2, 0, 1, false).to_vector<float>() == std::vector<float>{10});
  Tensor u = upsample_nearest2d(Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2}), 2, 2);
  CHECK(u.to_vector<float>() == std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  Tensor g = adaptive_avg_pool2d(x, 1, 1);
  CHECK(g.item<float>() == 7.5f);
  CHECK_THROWS_AS(max_pool2d(Tensor::zeros({4, 4}), 2, 2), std::invalid_argument);
  CHECK_THROWS_AS(group_norm(Tensor::zeros({1, 6, 2, 2}), 4, Tensor(), Tensor()), std::invalid_argument);
  CHECK_THROWS_AS(batch_norm(Tensor::zeros({2, 3, 2, 2}), Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true),
                  std::invalid_argument);
}

TEST_CASE("gradcheck: pooling, resampling and normalization") {
  for (uint64_t seed : {1, 2}) {
    Generator gen(seed);
    Tensor x = rand_leaf({2, 2, 5, 6}, gen);
    Tensor xt = test::rand_leaf_transposed({2, 2, 5, 6}, gen);
    gradcheck([](const std::vector<Tensor>& v) { return max_pool2d(v[0], 3, 2, 1); }, {x});
    gradcheck([](const std::vector<Tensor>& v) { return max_pool2d(v[0], 2, 2, 0, 1, true); }, {xt});
    gradcheck([](const std::vector<Tensor>& v) { return upsample_nearest2d(v[0], 2, 3); }, {x});
    gradcheck([](const std::vector<Tensor>& v) { return interpolate_bilinear(v[0], 9, 4); }, {x});
    gradcheck([](const std::vector<Tensor>& v) { return interpolate_bilinear(v[0], 3, 11, true); }, {xt});
    gradcheck([](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], 2, 4); }, {x});
    Tensor w = rand_leaf({2}, gen, 0.5, 1.5), b = rand_leaf({2}, gen);
    gradcheck([](const std::vector<Tensor>& v) {
      return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true);
    }, {x, w, b});
    Tensor rm = Tensor::uniform({2}, -0.2, 0.2, &gen, DType::Float64), rv = Tensor::uniform({2}, 0.5, 1.5, &gen, DType::Float64);
    gradcheck([&](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false); }, {xt, w, b});
    gradcheck([&](const std::vector<Tensor>& v) { return frozen_batch_norm(v[0], w.detach(), b.detach(), rm, rv); }, {x});
    gradcheck([](const std::vector<Tensor>& v) { return group_norm(v[0], 1, v[1], v[2]); }, {x, w, b});
  }
}

TEST_CASE("pooling, resampling and normalization equal torch") {
  auto ref = load_tensors(test::fixture("pool_norm.safetensors"));
  const std::vector<std::pair<std::string, std::string>> px{{"x", "pool.x"}};
  against_torch(ref, "maxpool_k3s2p1", px, [](auto& v) { return max_pool2d(v[0], 3, 2, 1); });
  against_torch(ref, "maxpool_k2s2_ceil", px, [](auto& v) { return max_pool2d(v[0], 2, 2, 0, 1, true); });
  against_torch(ref, "maxpool_k3s1_dil2", px, [](auto& v) { return max_pool2d(v[0], 3, 1, 1, 2); });
  against_torch(ref, "nearest_x2", px, [](auto& v) { return upsample_nearest2d(v[0], 2, 2); });
  against_torch(ref, "bilinear_up", px, [](auto& v) { return interpolate_bilinear(v[0], 17, 20); });
  against_torch(ref, "bilinear_down", px, [](auto& v) { return interpolate_bilinear(v[0], 5, 4); });
  against_torch(ref, "bilinear_ac", px, [](auto& v) { return interpolate_bilinear(v[0], 7, 13, true); });
  against_torch(ref, "adaptive_1x1", px, [](auto& v) { return adaptive_avg_pool2d(v[0], 1, 1); });
  against_torch(ref, "adaptive_4x3", px, [](auto& v) { return adaptive_avg_pool2d(v[0], 4, 3); });
  const std::vector<std::pair<std::string, std::string>> bn{{"x", "bn.x"}, {"weight", "bn.weight"}, {"bias", "bn.bias"}};
  Tensor rm = ref.at("bn.running_mean").clone(), rv = ref.at("bn.running_var").clone();
  against_torch(ref, "bn_train", bn, [&](auto& v) { return batch_norm(v[0], v[1], v[2], rm, rv, true, 0.1, 1e-5); });
  expect_close(rm, ref.at("bn_train.running_mean"), 1e-5, "running_mean update");
  expect_close(rv, ref.at("bn_train.running_var"), 1e-5, "running_var update");
  against_torch(ref, "bn_eval", bn, [&](auto& v) {
    return batch_norm(v[0], v[1], v[2], ref.at("bn.running_mean"), ref.at("bn.running_var"), false);
  });
  against_torch(ref, "frozen_bn", {{"x", "bn.x"}}, [&](auto& v) {
    return frozen_batch_norm(v[0], ref.at("bn.weight"), ref.at("bn.bias"), ref.at("bn.running_mean"), ref.at("bn.running_var"));
  });
  against_torch(ref, "group_norm", {{"x", "gn.x"}, {"weight", "gn.weight"}, {"bias", "gn.bias"}},
                [](auto& v) { return group_norm(v[0], 4, v[1], v[2]); });
}
