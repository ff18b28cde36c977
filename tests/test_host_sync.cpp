// Host-sync accounting on the CPU path (tensor/host_sync.h): every read of device data to the host is
// counted whatever the device, so these tests count what a CUDA training step would wait for.
// clip_grad_norm reads once for all gradients, the losses are read in one transfer, the targets are checked
// on the host, and a training step of the trainer makes exactly the reads listed (plain and device paths).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "data/load_dataset.h"
#include "data/shapes.h"
#include "kernels/index/read_scalars.h"
#include "kernels/ops.h"
#include "optim/clip.h"
#include "tensor/host_sync.h"
#include "shapes_test_util.h"
#include "test_util.h"
#include "train/inputs.h"
#include "train/trainer.h"

using namespace mrc;
namespace fs = std::filesystem;

TEST_CASE("the counter: item(), to_vector(), nonzero and nms each count one read; pure device work none") {
  Generator g(1);
  const Tensor x = Tensor::randn({64}, &g);
  {
    HostSyncScope s;
    const Tensor y = add(mul(x, x), x);
    const Tensor z = sum(y);
    CHECK(s.count() == 0);
    (void)z.item_double();
    CHECK(s.count() == 1);
    (void)y.to_vector<float>();
    CHECK(s.count() == 2);
    (void)nonzero(gt(x, 0.0));
    CHECK(s.count() == 3);
  }
  const Tensor boxes = Tensor::from_vector(std::vector<float>{0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30}, {3, 4});
  const Tensor scores = Tensor::from_vector(std::vector<float>{0.9f, 0.8f, 0.7f}, {3});
  HostSyncScope s;
  CHECK(nms(boxes, scores, 0.5).size(0) == 2);
  CHECK(s.count() == 1);
}

TEST_CASE("read_scalars reads many one-element tensors in one transfer, values exact") {
  std::vector<Tensor> ts = {Tensor::from_vector(std::vector<float>{1.5f}, {}), Tensor::from_vector(std::vector<double>{-2.25}, {1}),
                            Tensor::from_vector(std::vector<int64_t>{7}, {1, 1})};
  HostSyncScope s;
  const std::vector<double> v = read_scalars(ts);
  CHECK(s.count() == 1);
  CHECK(v == std::vector<double>{1.5, -2.25, 7.0});
  CHECK(read_scalars({}).empty());
  CHECK_THROWS_WITH_AS(read_scalars({Tensor::zeros({2})}), doctest::Contains("scalars[0] has shape [2]"), std::invalid_argument);
}

TEST_CASE("clip_grad_norm reads once for all gradients (not once per tensor), on the device not at all, every norm type") {
  for (const double q : {2.0, 1.0, 3.0, double(INFINITY)}) {
    CAPTURE(q);
    std::vector<Tensor> params;
    double expect = 0;
    for (int i = 0; i < 12; ++i) {
      Generator g(uint64_t(10 + i));
      Tensor p = Tensor::randn({3 + i, 5}, &g).requires_grad_(true);
      sum(mul(p, p)).backward();  // grad = 2p
      for (double v : p.grad().to_vector<double>())
        expect = std::isinf(q) ? std::max(expect, std::fabs(v)) : expect + std::pow(std::fabs(v), q);
      params.push_back(p);
    }
    if (!std::isinf(q)) expect = std::pow(expect, 1 / q);
    HostSyncScope s;
    const double total = clip_grad_norm(params, 1e9, {.norm_type = q});
    CHECK(s.count() == 1);
    CHECK(total == doctest::Approx(expect).epsilon(1e-6));
    // on the device: no read, the same total and the same clipped gradients, bit for bit (a max_norm that clips)
    NamedTensors a, b;
    for (size_t i = 0; i < params.size(); ++i) {
      a.emplace_back("a" + std::to_string(i), params[i].detach().clone().requires_grad_(true));
      b.emplace_back("b" + std::to_string(i), params[i].detach().clone().requires_grad_(true));
      a.back().second.set_grad(params[i].grad().clone());
      b.back().second.set_grad(params[i].grad().clone());
    }
    const double on_host = clip_grad_norm(a, 0.5 * total, {.norm_type = q});
    HostSyncScope none;
    const Tensor on_device = clip_grad_norm_on_device(b, 0.5 * total, {.norm_type = q});
    CHECK(none.count() == 0);
    CHECK(on_device.item_double() == on_host);
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.grad().to_vector<float>() == b[i].second.grad().to_vector<float>());
    CHECK(a[0].second.grad().to_vector<float>() != params[0].grad().to_vector<float>());  // clipped
  }
}

TEST_CASE("targets: checked on the host before the upload, none read back; unchecked, all read in one transfer") {
  test::TempDir tmp;
  const data::Dataset ds = test::shapes_dataset(tmp.path / "shapes", 2);
  const maskrcnn::Config c = test::tiny_shapes_config();
  data::Loader loader(ds, train::loader_options(c, true, 9));
  loader.begin_epoch(0);
  const std::optional<data::Batch> b = loader.next();
  REQUIRE(b);
  REQUIRE(b->targets.size() == 2);
  HostSyncScope upload;
  const train::ModelInputs in = train::to_model_inputs(*b, Device::cpu(), c.NUM_CLASSES);
  CHECK(upload.count() == 0);
  auto reads = [&](bool checked) {
    maskrcnn::MaskRCNN m(c);  // the same weights and draws each time: the same reads but the check's
    m.train();
    std::vector<maskrcnn::Target> targets = in.targets;
    for (maskrcnn::Target& t : targets) t.checked = checked;
    HostSyncScope s;
    (void)m.forward_train(in.images, targets);
    return s.count();
  };
  CHECK(reads(false) - reads(true) == 1);  // both photos' boxes and labels in one read
}

TEST_CASE("one training step of the trainer: every read counted") {
  test::TempDir tmp;
  const fs::path dir = tmp.path;
  const data::Dataset ds = test::shapes_dataset(dir / "shapes", 4);
  const maskrcnn::Config c = test::tiny_shapes_config();

  // Reads of a run of n steps (one epoch, no validation): the difference of two runs is one step's reads,
  // the checkpoint and history writes cancelling out.
  int64_t grads = 0;  // gradient tensors in a step: the reads clip_grad_norm made before it read once
  auto reads_of_run = [&](int64_t steps, const std::string& name) {
    maskrcnn::MaskRCNN model(c);
    data::Loader loader(ds, train::loader_options(c, true, 9));
    train::TrainOptions o;
    o.schedule = {{"all", 1, 0.01}};
    o.steps_per_epoch = steps;
    o.validation_steps = 0;
    o.out_dir = (dir / name).string();
    o.progress = false;
    o.log = nullptr;
    train::Trainer t(model, loader, nullptr, o, data::shapes_class_names());
    HostSyncScope s;
    t.run();
    const int64_t n = s.count();
    grads = 0;
    for (const auto& [k, p] : model.named_parameters()) grads += p.grad().defined();
    return n;
  };
  const int64_t one = reads_of_run(1, "one"), two = reads_of_run(2, "two");
  const int64_t per_step = two - one;
  MESSAGE("host reads per training step on the CPU path (what would sync on CUDA): " << per_step << " (runs of 1 and 2 steps: "
          << one << ", " << two << "); the loss logging reads once where it read 6 times before, clip_grad_norm "
          << "not at all where it read " << grads << " times");
  // The reads of the plain path, per step of `images` photos: per photo the RPN's proposal filtering (small
  // boxes, score threshold, NMS: three counts), the RPN sampler's labels, the ROI sampler's labels and its sampled
  // count, the mask head's positives (7); per step the RPN's sampled positives and negatives (2), the range of
  // the ROI labels in cross_entropy (1), the box head's positives (1), the loss logging (1). The targets are
  // checked on the host before their upload (to_model_inputs) and the gradients clipped on the device
  // (clip_grad_norm_on_device): no read. A new read fails here.
  const int64_t images = c.IMAGES_PER_GPU;
  CHECK(per_step == 7 * images + 5);

  // The device samplers (maskrcnn::set_device_samplers): the samplers read no labels, the losses no counts, the
  // RPN filters every photo at once (one read: the number each keeps) and cross_entropy's labels are in range by
  // construction; left: that read and the loss logging (a run of one step with them: the rest
  // of the run reads as before, so the difference is the step's drop)
  maskrcnn::set_device_samplers(true);
  const int64_t one_dev = reads_of_run(1, "one_dev");
  maskrcnn::set_device_samplers(false);
  const int64_t drop = one - one_dev;
  MESSAGE("with the device samplers: " << per_step - drop << " reads per training step (" << images << " images per step)");
  CHECK(per_step - drop == 2);
}
