// CUDA indexing and sorting vs CPU: index_select / index_add / index_copy (repeated targets), gather /
// scatter_add (strided operands), nonzero, boolean_mask, masked_fill, cat / stack / split, and sort /
// argsort / topk with ties, NaN and -0. Accumulations run in the CPU's order, so they compare exactly.
#ifdef MRC_WITH_CUDA
#include <doctest/doctest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "test_util.h"

using namespace mrc;
using namespace mrc::test;

namespace {

Tensor index_tensor(int64_t n, int64_t hi, uint64_t seed) {
  Generator g(seed);
  return Tensor::randint(0, hi, {n}, &g, DType::Int64);
}

}  // namespace

TEST_CASE("index_select, index_add, index_copy (repeated targets)") {
  if (!gpu()) return;
  for (int64_t dim : {0, 1, 2}) {
    const Tensor x = param({6, 7, 5}, 1);
    const Tensor idx = index_tensor(9, x.size(dim), 2 + uint64_t(dim));  // 9 picks from <= 7: repeats
    const std::string tag = " dim " + std::to_string(dim);
    // forward and the backward (an index_add with repeated targets): exact, same order of additions
    check_op("index_select" + tag, [&](const std::vector<Tensor>& in) { return index_select(in[0], dim, in[1]); },
             {x, idx}, {0, 0}, {0, 0});
    Shape src_shape = x.shape();
    src_shape[size_t(dim)] = idx.numel();
    const Tensor src = param(src_shape, 3);
    check_op("index_add" + tag, [&](const std::vector<Tensor>& in) { return index_add(in[0], dim, in[1], in[2]); },
             {x, idx, src}, {0, 0}, {0, 0});
    check_op("index_copy" + tag, [&](const std::vector<Tensor>& in) { return index_copy(in[0], dim, in[1], in[2]); },
             {x, idx, src}, {0, 0}, {0, 0});
  }
  // many slices into few targets (long runs), every dtype
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::UInt8}) {
    const Tensor x = Tensor::randint(0, 5, {4, 3}, nullptr, dt);
    const Tensor idx = index_tensor(5000, 4, 9);
    const Tensor src = Tensor::randint(0, 5, {5000, 3}, nullptr, dt);
    expect_equal(index_add(on_gpu(x), 0, on_gpu(idx), on_gpu(src)), index_add(x, 0, idx, src),
                 std::string("index_add long runs ") + dtype_name(dt));
    expect_equal(index_select(on_gpu(src), 0, on_gpu(idx)), index_select(src, 0, idx),
                 std::string("index_select ") + dtype_name(dt));
  }
  // an int32 index is widened; empty index
  const Tensor x = randn({5, 4}, 4);
  const Tensor i32 = Tensor::from_vector(std::vector<int32_t>{4, 0, 0});
  expect_equal(index_select(on_gpu(x), 0, on_gpu(i32)), index_select(x, 0, i32), "int32 index");
  const Tensor none = Tensor::empty({0}, DType::Int64);
  expect_equal(index_select(on_gpu(x), 1, on_gpu(none)), index_select(x, 1, none), "empty index");
  CHECK_THROWS_AS(index_select(on_gpu(x), 0, on_gpu(Tensor::from_vector(std::vector<int64_t>{5}))), std::invalid_argument);
}

TEST_CASE("gather and scatter_add, strided operands, forward and backward") {
  if (!gpu()) return;
  for (int64_t dim : {0, 1, 2}) {
    const Tensor x = param({5, 6, 7}, 10);
    Shape ishape = {4, 5, 6};  // smaller than x in the other dims, as torch allows
    ishape[size_t(dim)] = 9;   // longer than x along dim: repeated targets in scatter_add
    Generator g(11 + uint64_t(dim));
    const Tensor idx = Tensor::randint(0, x.size(dim), ishape, &g, DType::Int64);
    const std::string tag = " dim " + std::to_string(dim);
    check_op("gather" + tag, [&](const std::vector<Tensor>& in) { return gather(in[0], dim, in[1]); }, {x, idx},
             {0, 0}, {0, 0});
    Shape sshape = ishape;
    sshape[0] += 1;  // src larger than the index in one dim: its extra elements get zero gradient
    const Tensor src = param(sshape, 12);
    check_op("scatter_add" + tag,
             [&](const std::vector<Tensor>& in) { return scatter_add(in[0], dim, in[1], in[2]); }, {x, idx, src},
             {0, 0}, {0, 0});
  }
  // transposed input and index
  const Tensor x = param({6, 8}, 13);
  Generator g(14);
  const Tensor idx = Tensor::randint(0, 8, {6, 5}, &g, DType::Int64).t();  // [5, 6], strides (1, 5)
  check_op("gather transposed", [&](const std::vector<Tensor>& in) { return gather(in[0].t(), 0, in[1]); },
           {x, idx}, {0, 0}, {0, 0});
  // a long scatter along one column
  const Tensor big_idx = index_tensor(20000, 3, 15).view({20000, 1});
  const Tensor big_src = randn({20000, 1}, 16);
  const Tensor base = Tensor::zeros({3, 1});
  expect_equal(scatter_add(on_gpu(base), 0, on_gpu(big_idx), on_gpu(big_src)), scatter_add(base, 0, big_idx, big_src),
               "scatter_add long column");
}

TEST_CASE("nonzero, boolean_mask, masked_fill") {
  if (!gpu()) return;
  for (const Shape& s : {Shape{0}, Shape{1}, Shape{7}, Shape{3, 4, 5}, Shape{300, 1000}}) {
    Generator g(20);
    const Tensor x = Tensor::randint(0, 3, s, &g, DType::Float32);  // about a third are zero
    expect_equal(nonzero(on_gpu(x)), nonzero(x), "nonzero " + shape_str(s));
  }
  expect_equal(nonzero(Tensor::zeros({4, 4}, DType::UInt8, gpu_device())), nonzero(Tensor::zeros({4, 4}, DType::UInt8)),
               "nonzero none");
  Tensor nan_x = Tensor::from_vector(std::vector<double>{0, NAN, -0.0, 2});
  expect_equal(nonzero(on_gpu(nan_x)), nonzero(nan_x), "nonzero NaN and -0");
  const Tensor x = param({10, 3}, 21);
  const Tensor mask = gt(randn({10}, 22), 0.0);
  check_op("boolean_mask", [](const std::vector<Tensor>& in) { return boolean_mask(in[0], in[1]); }, {x, mask}, {0, 0},
           {0, 0});
  const Tensor m2 = gt(randn({10, 1}, 23), 0.0);
  check_op("masked_fill", [](const std::vector<Tensor>& in) { return masked_fill(in[0], in[1], -7.5); }, {x, m2},
           {0, 0}, {0, 0});
}

TEST_CASE("cat, stack, split, chunk") {
  if (!gpu()) return;
  const Tensor a = param({2, 3, 4}, 30), b = param({2, 5, 4}, 31), c = param({2, 1, 4}, 32);
  check_op("cat dim 1", [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, 1); }, {a, b, c}, {0, 0},
           {0, 0});
  const Tensor d = param({2, 3, 4}, 33);
  check_op("stack dim 2", [](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 2); }, {a, d}, {0, 0},
           {0, 0});
  check_op("split", [](const std::vector<Tensor>& in) { return mul(split(in[0], 3, 1)[1], 2.0); }, {b}, {0, 0}, {0, 0});
  check_op("chunk", [](const std::vector<Tensor>& in) { return chunk(in[0], 2, 2)[1]; }, {a.t()}, {0, 0}, {0, 0});
}

TEST_CASE("sort, argsort, topk: ties by index, NaN largest, -0 equal to +0") {
  if (!gpu()) return;
  // one row (device-wide radix sort) and many rows (segmented sort), small and large
  const std::vector<Shape> shapes = {{1, 10}, {1, 100000}, {64, 33}, {7, 5000}, {3000, 91}};
  for (const Shape& s : shapes) {
    for (bool desc : {false, true}) {
      const std::string tag = shape_str(s) + (desc ? " descending" : " ascending");
      // few distinct values: many ties
      const Tensor t = Tensor::randint(-5, 5, s, nullptr, DType::Float32);
      const auto [v, i] = sort(on_gpu(t), -1, desc);
      const auto [vr, ir] = sort(t, -1, desc);
      expect_equal(v, vr, "sort values " + tag);
      expect_equal(i, ir, "sort indices " + tag);
      const int64_t k = std::min<int64_t>(s[1], 7);
      const auto [tv, ti] = topk(on_gpu(t), k, -1, desc);
      const auto [tvr, tir] = topk(t, k, -1, desc);
      expect_equal(tv, tvr, "topk values " + tag);
      expect_equal(ti, tir, "topk indices " + tag);
    }
  }
  // special values in float64 and float32
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor sp =
        Tensor::from_vector(std::vector<double>{1.0, NAN, -0.0, 0.0, -INFINITY, INFINITY, -NAN, 0.0, -1.0, 1.0})
            .to(dt)
            .view({1, 10});
    for (bool desc : {false, true}) {
      const auto [v, i] = sort(on_gpu(sp), -1, desc);
      const auto [vr, ir] = sort(sp, -1, desc);
      expect_equal(i, ir, std::string("sort special values indices ") + dtype_name(dt));
      expect_equal(v, vr, std::string("sort special values ") + dtype_name(dt));
    }
  }
  // integer dtypes, sort along a leading dim, argsort, and the values' gradient
  for (DType it : {DType::Int32, DType::Int64, DType::UInt8}) {
    const Tensor t = Tensor::randint(0, 50, {9, 40}, nullptr, it);
    expect_equal(argsort(on_gpu(t), 0, true), argsort(t, 0, true), std::string("argsort dim 0 ") + dtype_name(it));
  }
  const Tensor x = param({6, 9}, 40, DType::Float64);
  check_op("sort values gradient", [](const std::vector<Tensor>& in) { return sort(in[0], 1, true).first; }, {x},
           {0, 0}, {0, 0});
  check_op("topk values gradient", [](const std::vector<Tensor>& in) { return topk(in[0], 3, 0, false).first; }, {x},
           {0, 0}, {0, 0});
}

#endif  // MRC_WITH_CUDA
