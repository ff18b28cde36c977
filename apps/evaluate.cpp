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
#include "train/report.h"
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
  app.add_option("--out", out, "JSON report (default with --run: RUN/evaluations/<checkpoint>_on_<data>.json, beside the "
                               "training's own RUN/eval.json, which it never replaces)");
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
    if (!src.run_dir.empty()) {
      const fs::path training_eval = fs::weakly_canonical(fs::path(src.run_dir) / "eval.json");
      if (out.empty()) {
        const fs::path data(data_json);  // VIA files are all via_region_data.json: name them by their folder
        const std::string data_name = data.stem() == "via_region_data" && data.has_parent_path()
                                          ? fs::weakly_canonical(data).parent_path().filename().string()
                                          : data.stem().string();
        out = (fs::path(src.run_dir) / "evaluations" /
               (fs::path(trained.checkpoint).stem().string() + "_on_" + data_name + ".json")).string();
        fs::create_directories(fs::path(out).parent_path());
      } else if (fs::weakly_canonical(out) == training_eval) {
        throw std::runtime_error("--out " + out + ": that is the training's own evaluation; choose another file");
      }
    }
    const train::DatasetDetections d = train::detect_dataset(*trained.model, dataset, !quiet);
    const train::Evaluation e = train::evaluate_detections(d.truth, d.detections);
    std::printf("%s on %s: %lld photos, %lld instances, %lld detections\n", trained.checkpoint.c_str(),
                data_json.c_str(), (long long)e.images, (long long)e.ground_truth, (long long)e.detections);
    std::printf("%-24s %8s %8s\n", "", "mask", "box");
    const std::pair<const char*, double train::ApResult::*> rows[] = {
        {"AP @[.50:.95]", &train::ApResult::ap}, {"AP50", &train::ApResult::ap50},
        {"AP75", &train::ApResult::ap75},        {"AP small", &train::ApResult::ap_small},
        {"AP medium", &train::ApResult::ap_medium}, {"AP large", &train::ApResult::ap_large},
        {"AR@1", &train::ApResult::ar1},         {"AR@10", &train::ApResult::ar10},
        {"AR@100", &train::ApResult::ar100},     {"AR small", &train::ApResult::ar_small},
        {"AR medium", &train::ApResult::ar_medium}, {"AR large", &train::ApResult::ar_large}};
    for (const auto& [name, field] : rows) std::printf("%-24s %8.4f %8.4f\n", name, e.mask.*field, e.box.*field);
    std::printf("%-24s %8.4f\n", "matterport mAP@0.5", e.matterport_map);
    std::printf("%-24s %8s %8s %8s %8s %8s %8s\n", "per class", "AP", "AP50", "AP75", "box AP", "AP50", "AP75");
    for (const auto& [c, k] : e.mask.per_class) {
      const train::ClassAp& b = e.box.per_class.at(c);
      std::printf("%-24s %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f\n", trained.class_names[size_t(c)].c_str(), k.ap, k.ap50,
                  k.ap75, b.ap, b.ap50, b.ap75);
    }
    if (!out.empty()) {
      nlohmann::json j = train::evaluation_to_json(e, trained.class_names);
      j["checkpoint"] = trained.checkpoint;
      j["data"] = data_json;
      write_file_atomic(out, j.dump(1) + "\n");
      train::write_evaluation_report(out, e, d.truth, d.detections, trained.class_names);
      std::printf("wrote %s and beside it the precision-recall curves and the confusion matrix\n", out.c_str());
    }
    return 0;
  });
}
