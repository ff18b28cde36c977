// Mask R-CNN end to end on the CPU: 512x512 image, batch 1, 51 classes, random weights; inference (eval,
// also on a 1024x768 photo with the study's 800/1024 resize,
// no grad: transform, backbone, RPN, ROI heads, mask pasting) and one SGD training step (forward with the
// five losses, backward, update; frozen batch norm, 3 trainable ResNet stages as torchvision fine-tunes; a
// small learning rate keeps the random network's workload the same from step to step).
// The weights, image and targets go to an exchange file that bench/maskrcnn_ref.py loads, so torchvision
// runs the same workload (same proposals and detections) in the same run. GFLOP/s counts the GEMM work
// (convolutions, linear layers) the run did, read from the GEMM's own counter. --profile adds the time per
// stage (transform, backbone, FPN, RPN, box head, mask head, paste; backward per stage, optimizer).
#include <cstdlib>
#include <filesystem>

#include "bench_util.h"
#include "kernels/gemm/gemm.h"
#include "kernels/ops.h"
#include "models/maskrcnn/maskrcnn.h"
#include "optim/sgd.h"
#include "tensor/parallel.h"
#include "tensor/serialize.h"

using namespace mrc;
using namespace mrc::maskrcnn;

namespace {

std::string exchange_path() {
  const char* p = std::getenv("MRC_BENCH_MASKRCNN_INPUT");
  return p ? p : (std::filesystem::temp_directory_path() / "mrc_bench_maskrcnn_input.safetensors").string();
}

// Times f (median of 3 after 1 warm-up) and returns {ms, ", \"gflops\": ..."}: the GEMM work of the 4 runs
// over their count, per median time (CPU only: the counter is the CPU engine's).
std::pair<double, std::string> timed_with_gflops(const std::function<void()>& f) {
  const double before = cpu::gemm_flops();
  const double ms = bench::median_ms(f, 1, 3);
  const double flops = (cpu::gemm_flops() - before) / 4;
  if (flops <= 0) return {ms, ""};
  return {ms, ", \"gflops\": " + std::to_string(flops / (ms * 1e6)) + ", \"gflop\": " + std::to_string(flops * 1e-9)};
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv);
  const Device dev = Device::parse(args.device);
  if (!dev.is_cuda()) set_num_threads(2);
  const std::string infer_name = "maskrcnn_infer_512_c51_b1", train_name = "maskrcnn_train_step_512_c51_b1";
  const std::string study_name = "maskrcnn_infer_1024x768_study_c51_b1";  // the study's 800/1024 resize
  if (!args.selected(infer_name) && !args.selected(train_name) && !args.selected(study_name)) return 0;
  Config cfg;
  cfg.NUM_CLASSES = 51;
  cfg.IMAGE_MIN_DIM = cfg.IMAGE_MAX_DIM = 512;
  cfg.SEED = 7;
  MaskRCNN model(cfg);
  // the image and four instances with elliptic masks
  Generator g(11);
  const int64_t s = 512;
  const Tensor image = Tensor::rand({3, s, s}, &g);
  const Tensor study_image = Tensor::rand({3, 768, 1024}, &g);
  Target t;
  std::vector<float> boxes;
  std::vector<int64_t> labels;
  std::vector<uint8_t> masks(size_t(4 * s * s), 0);
  for (int i = 0; i < 4; ++i) {
    const float x1 = float(40 + 100 * i), y1 = float(60 + 80 * i), w = float(120 + 20 * i), h = float(90 + 30 * i);
    boxes.insert(boxes.end(), {x1, y1, x1 + w, y1 + h});
    labels.push_back(1 + 12 * i);
    for (int64_t y = 0; y < s; ++y)
      for (int64_t x = 0; x < s; ++x) {
        const float dx = (float(x) + 0.5f - (x1 + w / 2)) / (w / 2), dy = (float(y) + 0.5f - (y1 + h / 2)) / (h / 2);
        masks[size_t((i * s + y) * s + x)] = dx * dx + dy * dy <= 1.f;
      }
  }
  t.boxes = Tensor::from_vector(boxes, {4, 4});
  t.labels = Tensor::from_vector(labels, {4});
  t.masks = Tensor::from_vector(masks, {4, s, s});
  TensorMap exchange;
  for (const auto& [k, v] : model.state_dict()) exchange["state." + k] = v;
  exchange["image"] = image;
  exchange["image_study"] = study_image;
  exchange["boxes"] = t.boxes;
  exchange["labels"] = t.labels;
  exchange["masks"] = t.masks;
  save_tensors(exchange_path(), exchange);
  model.to(dev);
  const Tensor img = image.to(dev);
  Target td{t.boxes.to(dev), t.labels.to(dev), t.masks.to(dev)};

  if (args.selected(infer_name)) {
    model.eval();
    int64_t n_det = 0;
    auto infer = [&] { n_det = model.detect({img})[0].masks.to(Device::cpu()).size(0); };
    const auto [ms, rate] = timed_with_gflops(infer);
    bench::print_case(infer_name, args.device, ms, "\"detections\": " + std::to_string(n_det) + rate);
    if (args.profile) bench::print_profile(infer_name, infer);
  }
  if (args.selected(study_name)) {  // before the training steps change the weights, as the reference runs it
    model.eval();
    Config study = cfg;
    study.IMAGE_MIN_DIM = 800;
    study.IMAGE_MAX_DIM = 1024;
    const GeneralizedRCNNTransform transform_512 = model.transform;
    model.transform = GeneralizedRCNNTransform(study);
    const Tensor simg = study_image.to(dev);
    int64_t n_det = 0;
    auto infer = [&] { n_det = model.detect({simg})[0].masks.to(Device::cpu()).size(0); };
    const auto [ms, rate] = timed_with_gflops(infer);
    bench::print_case(study_name, args.device, ms, "\"detections\": " + std::to_string(n_det) + rate);
    if (args.profile) bench::print_profile(study_name, infer);
    model.transform = transform_512;
  }
  if (args.selected(train_name)) {
    model.train();
    SGD opt(model.named_parameters(), SGDOptions{1e-6, 0.9, 0, 1e-4, false});
    double loss = 0;
    auto step = [&] {
      opt.zero_grad();
      const Losses l = model.forward_train({img}, {td});
      l.total.backward();
      {
        profile::Scope stage("optimizer");
        opt.step();
      }
      loss = l.total.item_double();
    };
    const auto [ms, rate] = timed_with_gflops(step);
    bench::print_case(train_name, args.device, ms, "\"loss\": " + std::to_string(loss) + rate);
    if (args.profile) bench::print_profile(train_name, step);
  }
  return 0;
}
