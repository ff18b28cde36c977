// Tensor core: factories, views and their strides, copies, dtype conversion, errors.
#include <doctest/doctest.h>

#include "kernels/ops.h"
#include "test_util.h"

using namespace mrc;

TEST_CASE("factories and metadata") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.strides() == Shape{3, 1});
  CHECK(z.numel() == 6);
  CHECK(z.is_contiguous());
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.f));
  Tensor a = Tensor::arange(6, DType::Float32).view({2, 3});
  CHECK(a.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(Tensor::full({2}, 2.5, DType::Float64).to_vector<double>() == std::vector<double>{2.5, 2.5});
  CHECK(reinterpret_cast<uintptr_t>(Tensor::empty({7}, DType::UInt8).raw_data()) % 64 == 0);
  CHECK_THROWS_WITH_AS(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                       doctest::Contains("3 values do not fill shape [2, 2]"), std::invalid_argument);
}

TEST_CASE("views share storage and have the right strides") {
  Tensor a = Tensor::arange(24, DType::Float32).view({2, 3, 4});
  Tensor t = a.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.strides() == Shape{1, 4, 12});
  CHECK(!t.is_contiguous());
  CHECK(t.contiguous().to_vector<float>()[1] == 12.f);  // t[0,0,1] = a[1,0,0]
  Tensor n = a.narrow(2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(n.offset() == 1);
  CHECK(n.contiguous().to_vector<float>() == std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22});
  Tensor s = a.slice(1, 0, 3, 2);
  CHECK(s.shape() == Shape{2, 2, 4});
  CHECK(s.select(1, 1).select(1, 3).to_vector<float>() == std::vector<float>{11, 23});
  Tensor e = Tensor::arange(3, DType::Float32).view({3, 1}).expand({3, 4});
  CHECK(e.strides() == Shape{1, 0});
  CHECK(e.contiguous().to_vector<float>() == std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(a.unsqueeze(1).shape() == Shape{2, 1, 3, 4});
  CHECK(a.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(a.unsqueeze(1).squeeze(1).shape() == Shape{2, 3, 4});
  CHECK(a.view({-1, 4}).shape() == Shape{6, 4});
  CHECK(a.flatten(1).shape() == Shape{2, 12});
  CHECK_THROWS_AS(t.view({24}), std::invalid_argument);
  CHECK(t.reshape({24}).to_vector<float>()[1] == 12.f);
  CHECK_THROWS_AS(a.view({5, -1}), std::invalid_argument);
  CHECK_THROWS_AS(a.select(1, 3), std::out_of_range);
  CHECK_THROWS_AS(a.size(3), std::out_of_range);
  a.narrow(0, 1, 1).fill_(-1);
  CHECK(a.to_vector<float>()[12] == -1.f);
  CHECK(a.to_vector<float>()[11] == 11.f);
}

TEST_CASE("dtype conversion and copy_") {
  Tensor a = Tensor::from_vector(std::vector<float>{1.5f, -2.5f, 3.f});
  CHECK(a.to(DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3});
  CHECK(a.to(DType::Float64).to_vector<double>() == std::vector<double>{1.5, -2.5, 3});
  Tensor b = Tensor::zeros({2, 3});
  b.copy_(a);  // broadcast
  CHECK(b.to_vector<float>() == std::vector<float>{1.5f, -2.5f, 3.f, 1.5f, -2.5f, 3.f});
  const uint64_t v0 = b.storage()->version();
  b.fill_(1);
  CHECK(b.storage()->version() == v0 + 1);
}

