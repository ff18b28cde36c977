// Convolutions, matrix products, softmax, losses and index/sort ops against torch on random inputs, plus
// float64 gradient checks and bad input. Convolutions and products against torch's float64, run in float64
// and float32 (tests/tolerance.h); the rest against torch's float32 (forward within 1e-5 relative, gradients
// within 1e-4): ATen's own kernels, whose AVX2 build the fixture step pins (ATEN_CPU_CAPABILITY=avx2 in
// CMakeLists.txt; test_norm.cpp's note), so these references are the same on every machine.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "tensor/serialize.h"
#include "torch_compare.h"

using namespace mrc;
using test::against_float64_torch;
using test::against_torch;
using test::gradcheck;
using test::rand_leaf;

namespace {
using Inputs = std::vector<std::pair<std::string, std::string>>;
Inputs xwb(const std::string& c) { return {{"x", c + ".x"}, {"weight", c + ".weight"}, {"bias", c + ".bias"}}; }
}  // namespace

TEST_CASE("conv2d and conv_transpose2d equal torch's float64, in float64 and in float32") {
  const auto ref = load_tensors(test::fixture("ops.safetensors"));
  test::RoundingReport report;
  struct C { const char* name; Int2 s, p, d; int64_t g; };
  for (const C& c : {C{"conv_3x3", 1, 1, 1, 1}, C{"conv_s2", 2, 1, 1, 1}, C{"conv_1x1_s2", 2, 0, 1, 1},
                     C{"conv_7x7_s2", 2, 3, 1, 1}, C{"conv_dil2", 1, 2, 2, 1}, C{"conv_groups", {1, 2}, {1, 0}, 1, 3}})
    against_float64_torch(ref, c.name, xwb(c.name),
                          [&](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], c.s, c.p, c.d, c.g); }, &report);
  against_float64_torch(ref, "convt_2x2_s2", xwb("convt_2x2_s2"),
                        [](const std::vector<Tensor>& v) { return conv_transpose2d(v[0], v[1], v[2], 2, 0, 0, 1); }, &report);
  against_float64_torch(ref, "convt_3x3_s2_op1", xwb("convt_3x3_s2_op1"),
                        [](const std::vector<Tensor>& v) { return conv_transpose2d(v[0], v[1], v[2], 2, 1, 1, 1); }, &report);
  against_float64_torch(ref, "convt_groups", xwb("convt_groups"),
                        [](const std::vector<Tensor>& v) { return conv_transpose2d(v[0], v[1], v[2], 1, 1, 0, 2); }, &report);
  MESSAGE(report.str());
}

TEST_CASE("matmul and linear equal torch's float64 (in float64 and float32), softmax torch's float32") {
  const auto ref = load_tensors(test::fixture("ops.safetensors"));
  test::RoundingReport report;
  auto mm = [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); };
  against_float64_torch(ref, "matmul_batched", {{"a", "mm.a"}, {"b", "mm.b"}}, mm, &report);
  against_float64_torch(ref, "matmul_vec", {{"a", "mm.a"}, {"v", "mm.v"}}, mm, &report);
  against_float64_torch(ref, "linear", xwb("lin"), [](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, &report);
  MESSAGE(report.str());
  against_torch(ref, "softmax_d1", {{"x", "sm.x"}}, [](const std::vector<Tensor>& v) { return softmax(v[0], 1); });
  against_torch(ref, "log_softmax_d2", {{"x", "sm.x"}}, [](const std::vector<Tensor>& v) { return log_softmax(v[0], 2); });
}

TEST_CASE("losses equal torch") {
  const auto ref = load_tensors(test::fixture("ops.safetensors"));
  const Tensor target = ref.at("ce.target"), cw = ref.at("ce.class_weight"), bw = ref.at("bce.weight");
  const Inputs ce{{"logits", "ce.logits"}};
  against_torch(ref, "ce_mean", ce, [&](const std::vector<Tensor>& v) { return cross_entropy(v[0], target).reshape({1}); });
  against_torch(ref, "ce_weighted", ce, [&](const std::vector<Tensor>& v) { return cross_entropy(v[0], target, cw).reshape({1}); });
  against_torch(ref, "ce_none", ce, [&](const std::vector<Tensor>& v) {
    return cross_entropy(v[0], target, Tensor(), -100, Reduction::None);
  });
  const Inputs bce{{"x", "bce.x"}, {"t", "bce.t"}};
  against_torch(ref, "bce_mean", bce, [](const std::vector<Tensor>& v) { return binary_cross_entropy_with_logits(v[0], v[1]).reshape({1}); });
  against_torch(ref, "bce_weighted_sum", bce, [&](const std::vector<Tensor>& v) {
    return binary_cross_entropy_with_logits(v[0], v[1], bw, Reduction::Sum).reshape({1});
  });
  const Inputs xy{{"x", "sl1.x"}, {"y", "sl1.y"}};
  against_torch(ref, "smooth_l1_b19", xy, [](const std::vector<Tensor>& v) {
    return smooth_l1_loss(v[0], v[1], 1.0 / 9, Reduction::Sum).reshape({1});
  });
  against_torch(ref, "smooth_l1_b1", xy, [](const std::vector<Tensor>& v) { return smooth_l1_loss(v[0], v[1], 1.0).reshape({1}); });
  against_torch(ref, "l1", xy, [](const std::vector<Tensor>& v) { return l1_loss(v[0], v[1]).reshape({1}); });
}

TEST_CASE("index and sort ops equal torch") {
  const auto ref = load_tensors(test::fixture("ops.safetensors"));
  const Tensor idx = ref.at("ix.index"), gi = ref.at("ix.gather_index");
  against_torch(ref, "index_select", {{"x", "ix.x"}}, [&](const std::vector<Tensor>& v) { return index_select(v[0], 0, idx); });
  against_torch(ref, "gather", {{"x", "ix.x"}}, [&](const std::vector<Tensor>& v) { return gather(v[0], 1, gi); });
  against_torch(ref, "scatter_add", {{"src", "ix.src"}},
                [&](const std::vector<Tensor>& v) { return scatter_add(Tensor::zeros({5, 4}), 1, gi, v[0]); });
  against_torch(ref, "cat", {{"x", "ix.x"}, {"h", "ix.h"}}, [](const std::vector<Tensor>& v) { return cat({v[0], v[1]}, 0); });
  Tensor topk_idx, sort_idx;
  against_torch(ref, "topk", {{"x", "tk.x"}}, [&](const std::vector<Tensor>& v) {
    auto [values, indices] = topk(v[0], 4, 1);
    topk_idx = indices;
    return values;
  });
  CHECK(topk_idx.to_vector<int64_t>() == ref.at("topk.indices").to_vector<int64_t>());
  against_torch(ref, "sort_desc", {{"x", "tk.x"}}, [&](const std::vector<Tensor>& v) {
    auto [values, indices] = sort(v[0], 1, true);
    sort_idx = indices;
    return values;
  });
  CHECK(sort_idx.to_vector<int64_t>() == ref.at("sort.indices").to_vector<int64_t>());
}

TEST_CASE("gradcheck: conv, matmul, softmax, losses") {
  for (uint64_t seed : {21, 22}) {
    Generator gen(seed);
    Tensor x = rand_leaf({2, 4, 5, 6}, gen), w = rand_leaf({6, 2, 3, 3}, gen), b = rand_leaf({6}, gen);
    gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], 2, 1, 1, 2); }, {x, w, b});
    Tensor xt = test::rand_leaf_transposed({1, 3, 5, 4}, gen), wt = rand_leaf({3, 2, 3, 3}, gen);
    gradcheck([](const std::vector<Tensor>& v) { return conv_transpose2d(v[0], v[1], Tensor(), 2, 1, 1); }, {xt, wt});
    Tensor a = test::rand_leaf_transposed({3, 4}, gen), m = rand_leaf({2, 4, 5}, gen);
    gradcheck([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {a, m});
    Tensor lw = rand_leaf({3, 4}, gen), lb = rand_leaf({3}, gen);
    gradcheck([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, {a, lw, lb});
    gradcheck([](const std::vector<Tensor>& v) { return log_softmax(v[0], 0); }, {a});
    gradcheck([](const std::vector<Tensor>& v) { return softmax(v[0], 1); }, {a});
    const Tensor target = Tensor::from_vector(std::vector<int64_t>{3, -100, 0});
    gradcheck([&](const std::vector<Tensor>& v) { return cross_entropy(v[0], target); }, {a});
    Tensor t = Tensor::uniform({3, 4}, 0, 1, &gen, DType::Float64);
    gradcheck([&](const std::vector<Tensor>& v) { return binary_cross_entropy_with_logits(v[0], t, Tensor(), Reduction::Sum); }, {a});
    gradcheck([&](const std::vector<Tensor>& v) { return smooth_l1_loss(v[0], t, 0.3); }, {a});
  }
}

TEST_CASE("bad input gives clear errors") {
  CHECK_THROWS_WITH(conv2d(Tensor::zeros({1, 3, 8, 8}), Tensor::zeros({4, 2, 3, 3})), doctest::Contains("input channels"));
  CHECK_THROWS_WITH(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 2})), doctest::Contains("cannot be multiplied"));
  CHECK_THROWS_WITH(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), doctest::Contains("[4, 5]"));
  CHECK_THROWS_WITH(cross_entropy(Tensor::zeros({2, 3}), Tensor::zeros({2}, DType::Float32)), doctest::Contains("int64"));
  CHECK_THROWS_WITH(cross_entropy(Tensor::zeros({2, 3}), Tensor::from_vector(std::vector<int64_t>{0, 3})),
                    doctest::Contains("[0, 3)"));
  CHECK_THROWS_WITH(smooth_l1_loss(Tensor::zeros({2}), Tensor::zeros({3})), doctest::Contains("has shape [3]"));
}
