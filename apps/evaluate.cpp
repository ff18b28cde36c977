// mrc-evaluate: a trained Mask R-CNN's accuracy on an annotated dataset (VIA or COCO), as COCO measures
// it: mask and box AP, AP50 (the Keras study's mAP) and AP75, and AP50 per class; printed as a table and
// written as JSON.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "apps/app_util.h"
#include "apps/class_options.h"
#include "data/class_attribute.h"
#include "data/load_dataset.h"
#include "tensor/atomic_file.h"
#include "tensor/parallel.h"
#include "train/model_eval.h"
#include "train/run_folder.h"

using namespace mrc;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"Mask and box AP of a trained Mask R-CNN on an annotated dataset (pycocotools' COCOeval rules)"};
  train::ModelSource src;
  std::string data_json, images, out, device_name = "cpu";
  int threads = 0;
  bool quiet = false;
  app.add_option("--data", data_json, "annotations: VIA 1.x/2.x project or COCO JSON")->required();
  app.add_option("--images", images, "folder of the photos (default: the JSON's folder)");
  data::DatasetOptions dopt;
  apps::add_class_options(app, dopt);
  app.add_option("--run", src.run_dir, "a mrc-train run folder (config, classes, last checkpoint)");
  app.add_option("--checkpoint", src.checkpoint, "weights file (default with --run: its last checkpoint)");
  app.add_option("--config", src.config, "model config JSON (default with --run: its config.json)");
  app.add_option("--classes", src.classes, "class names JSON (default with --run: its classes.json)");
  app.add_option("--out", out, "JSON report (default with --run: RUN/eval.json)");
  app.add_option("--device", device_name, "cpu or cuda[:N]");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_flag("--quiet", quiet, "no progress bar");
  if (const auto code = apps::parse_command_line(app, argc, argv, "mrc-evaluate")) return *code;
  return apps::run_reporting_errors("mrc-evaluate", [&] {
    if (threads > 0) set_num_threads(threads);
    train::TrainedModel trained = train::load_trained_model(src, Device::parse(device_name));
    dopt.class_names.assign(trained.class_names.begin() + 1, trained.class_names.end());  // the model's ids (no "BG")
    const data::Dataset dataset = data::load_dataset(data_json, images, dopt);
    std::printf("%s\n", data::class_summary(dataset).c_str());
    const train::Evaluation e = train::evaluate_model(*trained.model, dataset, !quiet);
    std::printf("%s on %s: %lld photos, %lld instances, %lld detections\n", trained.checkpoint.c_str(),
                data_json.c_str(), (long long)e.images, (long long)e.ground_truth, (long long)e.detections);
    std::printf("%-24s %8s %8s\n", "", "mask", "box");
    std::printf("%-24s %8.4f %8.4f\n", "AP @[.50:.95]", e.mask.ap, e.box.ap);
    std::printf("%-24s %8.4f %8.4f\n", "AP50", e.mask.ap50, e.box.ap50);
    std::printf("%-24s %8.4f %8.4f\n", "AP75", e.mask.ap75, e.box.ap75);
    for (const auto& [c, ap] : e.mask.ap50_per_class)
      std::printf("AP50 %-19s %8.4f %8.4f\n", trained.class_names[size_t(c)].c_str(), ap, e.box.ap50_per_class.at(c));
    if (out.empty() && !src.run_dir.empty()) out = (fs::path(src.run_dir) / "eval.json").string();
    if (!out.empty()) {
      nlohmann::json j = train::evaluation_to_json(e, trained.class_names);
      j["checkpoint"] = trained.checkpoint;
      j["data"] = data_json;
      write_file_atomic(out, j.dump(1) + "\n");
      std::printf("wrote %s\n", out.c_str());
    }
    return 0;
  });
}
