// The single-process side of data-parallel training: loader shards that put together make the global
// batch, a Distributed outside mpirun is a world of one whose collectives change nothing, and the keyed
// sampler makes a step's draws a function of (seed, step). The multi-rank behaviour is
// tests/test_distributed_mpi.py (mpirun, 2 ranks).
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "data/loader.h"
#include "tensor/autograd.h"
#include "shapes_test_util.h"
#include "test_util.h"
#include "train/distributed.h"
#include "train/global_batch.h"
#include "train/inputs.h"

using namespace mrc;
namespace fs = std::filesystem;
using test::shapes_dataset;

namespace {

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("loader shards: rank r's batch is the r-th part of the global batch, augmentation included") {
  test::TempDir dir;
  const data::Dataset ds = shapes_dataset(dir.path / "data", 7);
  data::LoaderOptions whole;
  whole.batch_size = 4;
  whole.seed = 11;
  whole.workers = 1;
  whole.augmentation = data::aug::parse_pipeline_text(R"({"pipeline": [{"type": "Multiply", "mul": [0.5, 1.5]}]})");
  whole.resize = data::ResizeConfig::matterport(data::ResizeMode::None);
  data::Loader global(ds, whole);
  std::vector<std::unique_ptr<data::Loader>> shards;
  for (int r = 0; r < 2; ++r) {
    data::LoaderOptions o = whole;
    o.batch_size = 2;
    o.shard_rank = r;
    o.shard_count = 2;
    shards.push_back(std::make_unique<data::Loader>(ds, o));
  }
  CHECK(shards[0]->size() == 1);  // 7 photos: one whole global batch of 4; the incomplete one is dropped
  CHECK(global.size() == 2);
  for (int64_t epoch : {0, 3}) {
    global.begin_epoch(epoch);
    for (auto& s : shards) s->begin_epoch(epoch);
    const data::Batch g = *global.next();
    for (int r = 0; r < 2; ++r) {
      const data::Batch b = *shards[size_t(r)]->next();
      REQUIRE(b.targets.size() == 2);
      CHECK(b.index == 0);
      for (int i = 0; i < 2; ++i) {
        const data::Target& t = b.targets[size_t(i)];
        const data::Target& u = g.targets[size_t(2 * r + i)];
        CHECK(t.image_id == u.image_id);
        CHECK(same_bytes(t.masks, u.masks));
        CHECK(same_bytes(b.images.select(0, i), g.images.select(0, 2 * r + i)));
      }
      CHECK_FALSE(shards[size_t(r)]->next().has_value());
    }
  }
  data::LoaderOptions bad = whole;
  bad.shard_rank = 2;
  bad.shard_count = 2;
  CHECK_THROWS_WITH_AS(data::Loader(ds, bad), doctest::Contains("shard_rank must be in [0, shard_count)"), std::invalid_argument);
}

TEST_CASE("outside mpirun a Distributed is a world of one whose collectives change nothing") {
  train::Distributed dist;
  CHECK(dist.rank() == 0);
  CHECK(dist.size() == 1);
  CHECK(dist.is_root());
  CHECK(dist.where() == "rank 0 of 1");
  const Tensor a = Tensor::from_vector<float>({1.5f, -2.f, 3.f}, {3});
  dist.all_reduce_sum(std::vector<Tensor>{a});
  CHECK(a.to_vector<float>() == std::vector<float>{1.5f, -2.f, 3.f});
  std::vector<double> v{0.25, 4};
  dist.all_reduce_sum(v);
  CHECK(v == std::vector<double>{0.25, 4});
  CHECK(dist.broadcast(std::string("abc")) == "abc");
  CHECK(dist.gather("xyz") == std::vector<std::string>{"xyz"});
  CHECK_NOTHROW(dist.check_same("anything", "the job"));
  dist.fail("test", "not fatal in a world of one", 2);  // returns
  CHECK_THROWS_AS(train::Distributed(), std::logic_error);  // one per process
}

TEST_CASE("keyed sampling: a step's losses are a function of (seed, stream, step), not of earlier draws") {
  test::TempDir dir;
  const data::Dataset ds = shapes_dataset(dir.path / "data", 2);
  maskrcnn::Config cfg;
  cfg.NUM_CLASSES = 6;
  cfg.IMAGE_MIN_DIM = 64;
  cfg.IMAGE_MAX_DIM = 96;
  cfg.BACKBONE_NORM = "gn";
  cfg.RPN_ANCHOR_SCALES = {8, 16, 32, 64, 128};
  cfg.PRE_NMS_LIMIT_TRAINING = cfg.POST_NMS_ROIS_TRAINING = 100;
  cfg.TRAIN_ROIS_PER_IMAGE = 16;
  cfg.RPN_TRAIN_ANCHORS_PER_IMAGE = 32;
  maskrcnn::MaskRCNN model(cfg);
  model.train();
  data::Loader loader(ds, train::loader_options(cfg, true, 5));
  loader.begin_epoch(0);
  const train::ModelInputs in = train::to_model_inputs(*loader.next(), Device::cpu());
  train::GlobalBatch whole(model, 5, nullptr);
  NoGradGuard no_grad;
  auto losses = [&](train::GlobalBatch& step, uint64_t counter) {
    return step.forward(train::GlobalBatch::Stream::Training, counter, in).losses;
  };
  const auto first = losses(whole, 1), other = losses(whole, 2), again = losses(whole, 1);
  CHECK(first == again);           // the same key draws the same samples, whatever came in between
  CHECK(first.at("rpn_class_loss") != other.at("rpn_class_loss"));  // another step draws others
  CHECK(first.at("loss") > 0);
  // The batch in two parts (what two ranks compute): each photo draws the same samples, and the
  // count-weighted losses are the batch's, up to the rounding of the batch's own sums.
  train::GlobalBatch halves(model, 5, nullptr, 2);
  const auto split = losses(halves, 1);
  for (const auto& [name, value] : first) CHECK_MESSAGE(split.at(name) == doctest::Approx(value).epsilon(1e-6), name);
  CHECK_THROWS_WITH_AS(train::GlobalBatch(model, 5, nullptr, 3).forward(train::GlobalBatch::Stream::Training, 1, in),
                       doctest::Contains("do not split into 3 equal parts"), std::invalid_argument);
}
