// mrc-predict: segments photos, folders of frames or a raw RGB24 video stream on standard input (e.g. piped
// from ffmpeg) with a trained Mask R-CNN. Loads the last checkpoint
// of a mrc-train run folder (or any weights file with a config), writes one overlay PNG per photo and
// all detections as JSON (COCO results with RLE masks), and times each photo: the first one (cold:
// first-touch allocations and caches) separately from the steady per-frame rate, as the study reported
// 3.8 s for a single image and 0.25 s per video frame.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "apps/app_util.h"
#include "data/image_io.h"
#include "data/progress.h"
#include "data/raw_frames.h"
#include "models/maskrcnn/maskrcnn.h"
#include "tensor/atomic_file.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"
#include "train/predict.h"
#include "train/run_folder.h"

using namespace mrc;
namespace fs = std::filesystem;

namespace {

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// Files as given; folders expand to their images sorted by name (the frames of a video, in order).
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    if (in == "-") {
      files.push_back(in);  // raw frames on standard input (--raw-size)
    } else if (fs::is_directory(in)) {
      std::vector<std::string> frames;
      for (const auto& e : fs::directory_iterator(in))
        if (e.is_regular_file() && is_image(e.path())) frames.push_back(e.path().string());
      std::sort(frames.begin(), frames.end());
      if (frames.empty()) throw std::runtime_error(in + ": no .jpg/.jpeg/.png/.bmp image in this folder");
      files.insert(files.end(), frames.begin(), frames.end());
    } else if (fs::exists(in)) {
      files.push_back(in);
    } else {
      throw std::runtime_error(in + ": no such file or folder");
    }
  }
  return files;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Segment photos or video frames with a trained Mask R-CNN; overlays, detections JSON and timing"};
  std::string run_dir, checkpoint, config_path, classes_path, out_dir, device_name = "cpu", raw_size;
  std::vector<std::string> inputs;
  double min_score = 0.5;
  int threads = 0;
  bool quiet = false, overwrite = false, no_overlays = false;
  app.add_option("inputs", inputs, "photos, folders of frames (taken in name order), or - for raw RGB24 frames on "
                                   "standard input (with --raw-size)")->required();
  app.add_option("--run", run_dir, "a mrc-train run folder: its config.json, classes.json and last checkpoint");
  app.add_option("--checkpoint", checkpoint, "weights file (default with --run: the run's last checkpoint)");
  app.add_option("--config", config_path, "model config JSON (default with --run: the run's config.json)");
  app.add_option("--classes", classes_path, "class names JSON list, \"BG\" first (default with --run: classes.json)");
  app.add_option("--out", out_dir, "output folder (appears whole at the end)")->required();
  app.add_option("--min-score", min_score, "detections drawn on the overlays score at least this")->check(CLI::Range(0.0, 1.0));
  app.add_option("--device", device_name, "cpu or cuda[:N]");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--raw-size", raw_size, "size WxH of the raw RGB24 frames read from '-' (standard input), e.g. "
                                        "ffmpeg -i video.mp4 -f rawvideo -pix_fmt rgb24 - | mrc-predict ... --raw-size 1280x720 -");
  app.add_flag("--no-overlays", no_overlays, "detections JSON and timing only");
  app.add_flag("--overwrite", overwrite, "replace an existing output folder");
  app.add_flag("--quiet", quiet, "no progress bar");
  bool profile_stages = false;
  app.add_flag("--profile", profile_stages, "print the time per stage of the detections at the end (or MRC_PROFILE=1)");
  if (const auto code = apps::parse_command_line(app, argc, argv, "mrc-predict")) return *code;
  if (profile_stages) profile::set_enabled(true);
  const profile::PrintAtExit print_profile;
  return apps::run_reporting_errors("mrc-predict", [&] {
    if (threads > 0) set_num_threads(threads);
    const Device device = Device::parse(device_name);
    const std::vector<std::string> files = expand_inputs(inputs);
    if (std::find(files.begin(), files.end(), "-") != files.end())  // checked before the model loads
      data::parse_frame_size(raw_size, "--raw-size (needed to read frames from '-')");
    train::TrainedModel trained = train::load_trained_model({run_dir, checkpoint, config_path, classes_path}, device);
    maskrcnn::MaskRCNN& model = *trained.model;
    const std::vector<std::string>& class_names = trained.class_names;
    checkpoint = trained.checkpoint;

    data::StagedDir staged(out_dir, overwrite);
    if (!no_overlays) fs::create_directories(fs::path(staged.path()) / "overlays");
    nlohmann::json detections = nlohmann::json::array(), timing_rows = nlohmann::json::array();
    std::vector<double> ms;
    const bool from_stdin = std::find(files.begin(), files.end(), "-") != files.end();
    data::ProgressBar bar(from_stdin ? 0 : int64_t(files.size()), "predict", quiet ? nullptr : stderr);
    auto segment = [&](const data::Image& photo, const std::string& name, const std::string& stem) {
      const auto t0 = std::chrono::steady_clock::now();
      const train::PhotoDetections d = train::detect_photo(model, photo);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      for (auto& e : train::detections_to_json(d, name, class_names)) detections.push_back(e);
      timing_rows.push_back({{"image", name}, {"width", photo.width}, {"height", photo.height}, {"ms", ms.back()},
                             {"detections", d.boxes.size()}});
      if (!no_overlays) {
        const fs::path png = fs::path(staged.path()) / "overlays" / (stem + ".png");
        data::write_png(png.string(), train::render_detections(photo, d, class_names, min_score));
      }
      bar.update();
    };
    for (const std::string& file : files) {
      if (file != "-") {
        segment(data::decode_image(file), fs::path(file).filename().string(), fs::path(file).stem().string());
        continue;
      }
      const auto [w, h] = data::parse_frame_size(raw_size, "--raw-size (needed to read frames from '-')");
      data::RawFrameReader frames(std::cin, w, h, "standard input");
      while (std::optional<data::Image> frame = frames.next()) {
        char stem[32];
        std::snprintf(stem, sizeof stem, "frame_%06lld", (long long)frames.frames_read());
        segment(*frame, stem, stem);
      }
    }
    if (ms.empty()) throw std::runtime_error("no photo or frame to segment (standard input was empty)");
    bar.finish();
    const std::vector<double> steady(ms.begin() + (ms.size() > 1 ? 1 : 0), ms.end());
    const nlohmann::json timing = {{"device", device.str()},
                                   {"threads", device.is_cuda() ? 0 : num_threads()},
                                   {"checkpoint", checkpoint},
                                   {"first_image_ms", ms.front()},
                                   {"per_frame_median_ms", median(steady)},
                                   {"frames", steady.size()},
                                   {"images", timing_rows}};
    write_file_atomic((fs::path(staged.path()) / "detections.json").string(), detections.dump(1) + "\n");
    write_file_atomic((fs::path(staged.path()) / "timing.json").string(), timing.dump(1) + "\n");
    staged.commit();
    std::printf("%zu photo(s), %zu detection(s) scoring >= %g; first photo %.0f ms (cold), then %.0f ms per frame "
                "(median of %zu) on %s\nwrote %s: %sdetections.json, timing.json\n",
                ms.size(), size_t(std::count_if(detections.begin(), detections.end(), [&](const auto& e) {
                  return e.at("score").template get<double>() >= min_score;
                })),
                min_score, ms.front(), median(steady), steady.size(), device.str().c_str(), out_dir.c_str(),
                no_overlays ? "" : "overlays/*.png, ");
    return 0;
  });
}
