// PRECISION = fp32 | tf32 | bf16 (tensor/precision.h) on the CPU path: parsing, the config key, the CPU's
// refusal of tf32/bf16 (it computes in fp32 only), and mrc-train / mrc-predict's --precision flag. The CUDA
// math itself is checked against the CPU in tests/cuda/test_linalg_cuda.cpp (needs a GPU).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "app_runner.h"
#include "models/maskrcnn/config.h"
#include "tensor/precision.h"
#include "test_util.h"

using namespace mrc;

TEST_CASE("parse_precision: the three names, anything else refused naming where and what is accepted") {
  CHECK(parse_precision("fp32", "x") == Precision::FP32);
  CHECK(parse_precision("tf32", "x") == Precision::TF32);
  CHECK(parse_precision("bf16", "x") == Precision::BF16);
  for (const char* p : {"fp32", "tf32", "bf16"}) CHECK(std::string(precision_name(parse_precision(p, "x"))) == p);
  CHECK_THROWS_WITH_AS(parse_precision("fp16", "--precision"),
                       doctest::Contains("--precision: expected fp32, tf32 or bf16, got \"fp16\""), std::invalid_argument);
}

TEST_CASE("the CPU computes in fp32 only: tf32 and bf16 are refused for it, fp32 is the default") {
  CHECK(precision() == Precision::FP32);
  set_precision(Precision::FP32, Device::cpu());
  CHECK(precision() == Precision::FP32);
  for (const Precision p : {Precision::TF32, Precision::BF16}) {
    CHECK_THROWS_WITH_AS(set_precision(p, Device::cpu(), "PRECISION"), doctest::Contains("needs a CUDA device"),
                         std::invalid_argument);
    CHECK(precision() == Precision::FP32);  // unchanged by a refusal
  }
}

TEST_CASE("the PRECISION config key: fp32 by default, the three names accepted, others refused naming the file") {
  test::TempDir dir;
  CHECK(maskrcnn::Config{}.PRECISION == "fp32");
  const maskrcnn::Config c = maskrcnn::load_config(dir.write("bf16.json", R"({"PRECISION": "bf16"})"));
  CHECK(c.PRECISION == "bf16");
  const std::string bad = dir.write("bad.json", R"({"PRECISION": "fp16"})");
  CHECK_THROWS_WITH(maskrcnn::load_config(bad), doctest::Contains("PRECISION"));
  CHECK_THROWS_WITH(maskrcnn::load_config(bad), doctest::Contains("bad.json"));
}

TEST_CASE("mrc-train and mrc-predict refuse --precision tf32/bf16 on the CPU: exit code, one clear line") {
  test::TempDir dir;
  const std::string data = dir / "data";
  test::AppRun r = test::run_app("mrc-shapes", "--out " + test::quoted(data) + " --count 2 --size 64x48 --quiet", dir.path);
  REQUIRE(r.code == 0);
  r = test::run_app("mrc-train", "--train " + test::quoted(dir / "data/via_region_data.json") +
                                     " --device cpu --precision bf16 --out " + test::quoted(dir / "run"),
                    dir.path);
  CHECK(r.code != 0);
  CHECK(test::contains(r.err, "--precision=bf16 needs a CUDA device"));
  CHECK(!std::filesystem::exists(dir / "run"));
  r = test::run_app("mrc-train", "--train " + test::quoted(dir / "data/via_region_data.json") +
                                     " --device cpu --precision fp16 --out " + test::quoted(dir / "run"),
                    dir.path);
  CHECK(r.code != 0);
  CHECK(test::contains(r.err, "expected fp32, tf32 or bf16"));
  r = test::run_app("mrc-predict", "--run " + test::quoted(dir / "run") + " --device cpu --precision tf32 --out " +
                                       test::quoted(dir / "pred") + " " + test::quoted(data),
                    dir.path);
  CHECK(r.code != 0);
  CHECK(test::contains(r.err, "--precision=tf32 needs a CUDA device"));
}
