// mrc-predict: segments photos, folders of frames, video files (decoded by ffmpeg: DIR/<name>_segmented.mp4
// with the masks blended in) or a raw RGB24 video stream on standard input with a trained Mask R-CNN; with
// --data ANNOT.json the photos of a dataset, detections carrying the dataset's own COCO image and category ids. Loads the last checkpoint
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
#include "apps/class_options.h"
#include "data/contact_sheet.h"
#include "data/image_io.h"
#include "data/coco.h"
#include "data/load_dataset.h"
#include "data/video.h"
#include "data/progress.h"
#include "data/raw_frames.h"
#include "models/maskrcnn/maskrcnn.h"
#include "tensor/atomic_file.h"
#include "tensor/parallel.h"
#include "tensor/precision.h"
#include "tensor/profile.h"
#include "train/gpu_switches.h"
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
    } else if (fs::is_regular_file(in)) {
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
  std::string run_dir, checkpoint, config_path, classes_path, out_dir, device_name = "cpu", raw_size, data_json, images, precision,
      gpu_switch_list;
  data::DatasetOptions dopt;
  std::vector<std::string> inputs;
  double min_score = 0.5;
  int threads = 0;
  bool quiet = false, overwrite = false, no_overlays = false, want_sheet = false;
  app.add_option("inputs", inputs, "photos, folders of frames (taken in name order), video files (.mp4, .mov, .avi, "
                                   ".mkv, .webm: decoded by ffmpeg), or - for raw RGB24 frames on standard input "
                                   "(with --raw-size)");
  app.add_option("--data", data_json, "segment the photos of this VIA/COCO dataset; detections.json then carries its "
                                      "COCO image and category ids (pycocotools loadRes reads it)");
  app.add_option("--images", images, "folder of the --data photos (default: the JSON's folder)");
  apps::add_class_options(app, dopt);
  app.add_option("--run", run_dir, "a mrc-train run folder: its config.json, classes.json and last checkpoint");
  app.add_option("--checkpoint", checkpoint, "weights file (default with --run: the run's last checkpoint)");
  app.add_option("--config", config_path, "model config JSON (default with --run: the run's config.json)");
  app.add_option("--classes", classes_path, "class names JSON list, \"BG\" first (default with --run: classes.json)");
  app.add_option("--out", out_dir, "output folder (appears whole at the end)")->required();
  app.add_option("--min-score", min_score, "detections drawn on the overlays score at least this")->check(CLI::Range(0.0, 1.0));
  app.add_option("--device", device_name, "cpu or cuda[:N]");
  app.add_option("--precision", precision, "conv/GEMM math: fp32, tf32 or bf16 (CUDA only; default: the config's "
                                           "PRECISION on CUDA, fp32 on the CPU)");
  app.add_option("--gpu-switches", gpu_switch_list, "comma-separated fast paths to turn on, unverified on a GPU (README: GPU "
                                                    "switches): cuda_graphs, fused_conv_epilogue, cudnn_benchmark");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--raw-size", raw_size, "size WxH of the raw RGB24 frames read from '-' (standard input), e.g. "
                                        "ffmpeg -i video.mp4 -f rawvideo -pix_fmt rgb24 - | mrc-predict ... --raw-size 1280x720 -");
  app.add_flag("--no-overlays", no_overlays, "detections JSON and timing only");
  app.add_flag("--contact-sheet", want_sheet, "also contact_sheet.png: the first 48 overlays in one picture");
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
    if (inputs.empty() && data_json.empty()) throw std::runtime_error("nothing to segment: give photos, folders, videos, - or --data");
    if (!precision.empty()) set_precision(parse_precision(precision, "--precision"), device, "--precision");
    train::enable_gpu_switches(gpu_switch_list, device);
    const std::vector<std::string> files = expand_inputs(inputs);
    if (std::find(files.begin(), files.end(), "-") != files.end())  // checked before the model loads
      data::parse_frame_size(raw_size, "--raw-size (needed to read frames from '-')");
    train::TrainedModel trained = train::load_trained_model({run_dir, checkpoint, config_path, classes_path}, device);
    maskrcnn::MaskRCNN& model = *trained.model;
    if (precision.empty() && device.is_cuda())
      set_precision(parse_precision(model.config().PRECISION, "PRECISION"), device);
    const std::vector<std::string>& class_names = trained.class_names;
    checkpoint = trained.checkpoint;

    data::StagedDir staged(out_dir, overwrite);
    if (!no_overlays) fs::create_directories(fs::path(staged.path()) / "overlays");
    nlohmann::json detections = nlohmann::json::array(), timing_rows = nlohmann::json::array();
    std::vector<double> ms;
    std::vector<data::Image> sheet_pictures;
    std::vector<std::string> sheet_captions;
    constexpr size_t kSheetMax = 48;
    const bool streams = std::any_of(files.begin(), files.end(), [](const std::string& f) {
      return f == "-" || data::is_video_file(f);
    });
    data::Dataset dataset;
    std::vector<int64_t> image_ids, category_ids;
    if (!data_json.empty()) {
      dopt.class_names.assign(class_names.begin() + 1, class_names.end());  // the model's ids (no "BG")
      dataset = data::load_dataset(data_json, images, dopt);
      image_ids = data::coco_image_ids(dataset);
      category_ids = train::category_ids_for(dataset, class_names);
    }
    data::ProgressBar bar(streams ? 0 : int64_t(files.size() + dataset.images.size()), "predict", quiet ? nullptr : stderr);
    // Segments one picture: detections (JSON, timing) and its overlay, which it returns when wanted.
    auto segment = [&](const data::Image& photo, const std::string& name, const std::string& png_stem,
                       nlohmann::json extra, bool want_overlay) {
      const auto t0 = std::chrono::steady_clock::now();
      const train::PhotoDetections d = train::detect_photo(model, photo);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      const int64_t image_id = extra.contains("image_id") ? extra["image_id"].get<int64_t>() : -1;
      for (auto& e : train::detections_to_json(d, name, class_names, image_id, category_ids)) {
        for (auto& [k, v] : extra.items()) e[k] = v;
        detections.push_back(e);
      }
      nlohmann::json row = {{"image", name}, {"width", photo.width}, {"height", photo.height}, {"ms", ms.back()},
                            {"detections", d.boxes.size()}};
      for (auto& [k, v] : extra.items()) row[k] = v;
      timing_rows.push_back(std::move(row));
      const bool to_sheet = want_sheet && sheet_pictures.size() < kSheetMax;
      data::Image overlay;
      if (!png_stem.empty() || to_sheet || want_overlay) overlay = train::render_detections(photo, d, class_names, min_score);
      if (!png_stem.empty()) data::write_png((fs::path(staged.path()) / "overlays" / (png_stem + ".png")).string(), overlay);
      if (to_sheet) {
        sheet_pictures.push_back(overlay);
        sheet_captions.push_back(extra.contains("frame") ? name + " #" + std::to_string(extra["frame"].get<int64_t>()) : name);
      }
      bar.update();
      return overlay;
    };
    nlohmann::json videos = nlohmann::json::array();
    for (size_t i = 0; i < dataset.images.size(); ++i) {
      const data::ImageRecord& rec = dataset.images[i];
      segment(data::decode_image(rec.path), rec.image_id, no_overlays ? "" : fs::path(rec.image_id).stem().string(),
              {{"image_id", image_ids[i]}}, false);
    }
    for (const std::string& file : files) {
      if (data::is_video_file(file)) {
        data::VideoReader reader(file);
        const std::string stem = fs::path(file).stem().string();
        const std::string mp4 = stem + "_segmented.mp4";
        data::VideoWriter writer((fs::path(staged.path()) / mp4).string(), reader.info().width, reader.info().height,
                                 reader.info().fps);
        const size_t first = ms.size();
        const auto t0 = std::chrono::steady_clock::now();
        while (std::optional<data::Image> frame = reader.next())
          writer.write(segment(*frame, fs::path(file).filename().string(), "", {{"frame", reader.frames_read()}}, true));
        writer.close();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (ms.size() == first) throw std::runtime_error(file + ": no video frame decoded");
        const std::vector<double> v(ms.begin() + long(first), ms.end());
        const std::vector<double> v_steady(v.begin() + (v.size() > 1 ? 1 : 0), v.end());
        videos.push_back({{"video", file}, {"output", mp4}, {"frames", v.size()}, {"source_fps", reader.info().fps},
                          {"fps", double(v.size()) / seconds}, {"first_frame_ms", v.front()},
                          {"per_frame_median_ms", median(v_steady)}});
        std::printf("%s: %zu frames at %.2f fps (first frame %.0f ms, then %.0f ms per frame) -> %s\n", file.c_str(),
                    v.size(), double(v.size()) / seconds, v.front(), median(v_steady), mp4.c_str());
        continue;
      }
      if (file != "-") {
        segment(data::decode_image(file), fs::path(file).filename().string(),
                no_overlays ? "" : fs::path(file).stem().string(), nlohmann::json::object(), false);
        continue;
      }
      const auto [w, h] = data::parse_frame_size(raw_size, "--raw-size (needed to read frames from '-')");
      data::RawFrameReader frames(std::cin, w, h, "standard input");
      while (std::optional<data::Image> frame = frames.next()) {
        char stem[32];
        std::snprintf(stem, sizeof stem, "frame_%06lld", (long long)frames.frames_read());
        segment(*frame, stem, no_overlays ? "" : stem, nlohmann::json::object(), false);
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
                                   {"images", timing_rows},
                                   {"videos", videos}};
    if (want_sheet) data::write_png((fs::path(staged.path()) / "contact_sheet.png").string(),
                                    data::contact_sheet(sheet_pictures, sheet_captions));
    write_file_atomic((fs::path(staged.path()) / "detections.json").string(), detections.dump(1) + "\n");
    write_file_atomic((fs::path(staged.path()) / "timing.json").string(), timing.dump(1) + "\n");
    staged.commit();
    std::printf("%zu photo(s), %zu detection(s) scoring >= %g; first photo %.0f ms (cold), then %.0f ms per frame "
                "(median of %zu) on %s\nwrote %s: %s%sdetections.json, timing.json\n",
                ms.size(), size_t(std::count_if(detections.begin(), detections.end(), [&](const auto& e) {
                  return e.at("score").template get<double>() >= min_score;
                })),
                min_score, ms.front(), median(steady), steady.size(), device.str().c_str(), out_dir.c_str(),
                no_overlays ? "" : "overlays/*.png, ", want_sheet ? "contact_sheet.png, " : "");
    return 0;
  });
}
