// mrc-train-shapes: the engine end to end on generated data. A small CNN learns to tell circles,
// squares and triangles apart with SGD or Adam; shows progress, the falling loss, the held-out
// accuracy, and writes a checkpoint and the loss history (CSV) atomically.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "apps/app_util.h"
#include "data/progress.h"
#include "kernels/ops.h"
#include "models/toy/shapes_cnn.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "optim/sgd.h"
#include "tensor/atomic_file.h"
#include "tensor/parallel.h"

using namespace mrc;

namespace {

double accuracy(toy::ShapesCNN& model, const toy::Batch& b) {
  NoGradGuard ng;
  model.eval();
  const Tensor pred = argmax(model.forward(b.images), 1);
  model.train();
  return double(count_nonzero(eq(pred, b.labels))) / double(b.labels.numel());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a small CNN on generated shapes (circle / square / triangle) with the maskrcnn.cpp engine"};
  std::string optimizer = "adam", out_dir;
  int steps = 150, batch = 32, threads = 0;
  double lr = -1;
  uint64_t seed = 0;
  bool quiet = false;
  app.add_option("--optimizer", optimizer, "sgd or adam")->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--steps", steps, "training steps")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "images per step")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "learning rate (default: 0.05 for SGD, 0.005 for Adam)");
  app.add_option("--seed", seed, "seed of the data and the initial weights");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--out", out_dir, "folder for checkpoint.safetensors and loss.csv");
  app.add_flag("--quiet", quiet, "no progress bar");
  if (const auto code = apps::parse_command_line(app, argc, argv, "mrc-train-shapes")) return *code;
  return apps::run_reporting_errors("mrc-train-shapes", [&] {
    if (threads > 0) set_num_threads(threads);
    if (lr <= 0) lr = optimizer == "sgd" ? 0.05 : 0.005;
    Generator data_gen(seed * 7919 + 1);
    const toy::Batch held_out = toy::make_shapes_batch(256, data_gen);
    toy::ShapesCNN model(seed);
    ParamGroup group;
    group.params = model.named_parameters();
    group.lr = lr;
    std::unique_ptr<Optimizer> opt;
    if (optimizer == "sgd") {
      group.momentum = 0.9;
      group.weight_decay = 1e-4;
      opt = std::make_unique<SGD>(std::vector<ParamGroup>{group});
    } else {
      opt = std::make_unique<Adam>(std::vector<ParamGroup>{group});
    }
    std::printf("ShapesCNN: %lld parameters, %s lr %g, %d steps of %d images\n", (long long)model.parameter_count(),
                optimizer.c_str(), lr, steps, batch);
    std::printf("accuracy before training: %.1f%%\n", 100 * accuracy(model, held_out));
    std::ostringstream csv;
    csv << "step,loss\n";
    double first = 0, smoothed = 0;
    data::ProgressBar bar(steps, "train", quiet ? nullptr : stderr);
    for (int s = 1; s <= steps; ++s) {
      const toy::Batch b = toy::make_shapes_batch(batch, data_gen);
      const Tensor loss = cross_entropy(model.forward(b.images), b.labels);
      opt->zero_grad();
      loss.backward();
      opt->step();
      const double l = loss.item<double>();
      smoothed = s == 1 ? l : 0.9 * smoothed + 0.1 * l;
      if (s == 1) first = l;
      csv << s << ',' << l << '\n';
      bar.update();
      if (!quiet && (s % 25 == 0 || s == steps)) {
        std::fprintf(stderr, "\n");
        std::printf("step %4d  loss %.4f  (smoothed %.4f)\n", s, l, smoothed);
      }
    }
    bar.finish();
    const double acc = accuracy(model, held_out);
    std::printf("loss %.4f -> %.4f (smoothed)\naccuracy after training: %.1f%%\n", first, smoothed, 100 * acc);
    if (!out_dir.empty()) {
      std::filesystem::create_directories(out_dir);
      save_checkpoint(out_dir + "/checkpoint.safetensors", model.state_dict(), opt.get(), steps);
      write_file_atomic(out_dir + "/loss.csv", csv.str());
      std::printf("wrote %s/checkpoint.safetensors and %s/loss.csv\n", out_dir.c_str(), out_dir.c_str());
    }
    return 0;
  });
}
