// bench-loader: loader throughput on the balloon photos (../shared/data/balloon/train, else 40
// generated shapes photos at 1024x768): decode + rasterize the masks + resize matterport-style to
// 1024 (square, IMAGE_MIN_DIM 800) + the study's augmentation pipeline on image and masks, on 1 and
// 2 worker threads, against imgaug 0.4 doing the same in the same run (bench/loader_imgaug.py).
// Validates first, warms up, reports the median of the repeats: a table, a per-stage breakdown on
// one thread, and one JSON line per case:
//   {"bench": "loader_1t", "device": "cpu", "ours_ms": ms per image, "ref": "imgaug 0.4",
//    "ref_ms": ..., "ratio": ours_ms / ref_ms}   (scripts/bench's convention: below 1 is faster)
//   bench-loader [--annotations VIA.json] [--images DIR] [--config PIPELINE.json] [--threads 1,2]
//                [--repeats 3] [--no-ref] [--device cpu] [--filter REGEX]
// The loader runs on the CPU: with --device cuda it prints nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <regex>
#include <string>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "data/augment/pipeline.h"
#include "data/image_io.h"
#include "data/load_dataset.h"
#include "data/prefetch.h"
#include "data/rasterize.h"
#include "data/resize.h"
#include "data/shapes.h"

namespace fs = std::filesystem;
using namespace mrc::data;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

const ResizeConfig kResize = ResizeConfig::matterport(ResizeMode::Square, 800, 1024);

// The timed work for one photo.
Sample load_one(const Dataset& ds, size_t i, const aug::Pipeline& pipeline, uint64_t seed) {
  LoadOptions lo;
  lo.decode.apply_exif = false;   // the reference does not rotate either
  Sample s = load_sample(ds, i, lo);
  const ResizePlan plan = plan_resize(s.image.width, s.image.height, kResize);
  apply_resize(s, plan, MaskResample::AlignCorners);
  pipeline(s, aug::derive_seed(seed, i));
  return s;
}

double run_pass(const Dataset& ds, const aug::Pipeline& pipeline, int threads, uint64_t seed) {
  const auto t0 = Clock::now();
  Prefetcher<int> pf(epoch_order(int64_t(ds.images.size()), 0, 0, false),
                     [&](int64_t i, int64_t) { return int(load_one(ds, size_t(i), pipeline, seed).instances.size()); },
                     threads, 2 * threads);
  int n = 0;
  while (pf.next(n)) {
  }
  return seconds_since(t0);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Loader throughput: decode + resize to 1024 + the study's augmentation, vs imgaug"};
  std::string annotations, images, config = std::string(MRC_SOURCE_DIR) + "/configs/augment_study.json";
  std::string threads_arg = "1,2";
  int repeats = 3;
  bool no_ref = false;
  std::string device = "cpu", filter;
  app.add_option("--annotations", annotations, "VIA file of the photos (default: the balloon train set)");
  app.add_option("--images", images, "Photo folder (default: the annotation file's)");
  app.add_option("--config", config, "Augmentation pipeline")->capture_default_str();
  app.add_option("--threads", threads_arg, "Thread counts")->capture_default_str();
  app.add_option("--repeats", repeats, "Timed passes per case (median reported)")->capture_default_str();
  app.add_flag("--no-ref", no_ref, "Skip the imgaug reference");
  app.add_option("--device", device, "cpu (the loader has no GPU part; cuda prints nothing)");
  app.add_option("--filter", filter, "Regex on the case names (loader_1t, loader_2t)");
  CLI11_PARSE(app, argc, argv);
  if (device != "cpu") {
    std::fprintf(stderr, "bench-loader: the loader runs on the CPU; nothing to time for --device %s\n", device.c_str());
    return 0;
  }
  try {
    std::string tmp_dir;
    if (annotations.empty()) {
      const fs::path balloon = fs::path(MRC_SOURCE_DIR).parent_path() / "shared/data/balloon/train/via_region_data.json";
      if (fs::exists(balloon)) {
        annotations = balloon.string();
      } else {
        tmp_dir = (fs::temp_directory_path() / ("mrc_bench_loader_" + std::to_string(::getpid()))).string();
        ShapesOptions so;
        so.width = 1024;
        so.height = 768;
        write_shapes_dataset(tmp_dir, 40, so, true, false);
        annotations = tmp_dir + "/via_region_data.json";
        std::fprintf(stderr, "balloon photos not found: using 40 generated shapes photos (1024x768)\n");
      }
    }
    DatasetOptions dopt;   // polygons only matter; the class attribute does not
    const Dataset ds = load_dataset(annotations, images, dopt);
    const aug::Pipeline pipeline = aug::load_pipeline(config);
    const size_t n = ds.images.size();

    // Validate: 1024x1024 out, masks the same size, a seed reproduces the result.
    for (size_t i = 0; i < std::min<size_t>(n, 3); ++i) {
      const Sample a = load_one(ds, i, pipeline, 7), b = load_one(ds, i, pipeline, 7);
      if (a.image.width != 1024 || a.image.height != 1024) throw std::runtime_error("validation: output is not 1024x1024");
      for (const auto& inst : a.instances)
        if (inst.mask.width != 1024 || inst.mask.height != 1024) throw std::runtime_error("validation: mask size");
      if (a.image.pixels != b.image.pixels) throw std::runtime_error("validation: a seed does not reproduce the result");
    }

    // Per-stage breakdown on one thread (for reading, not for the ratio).
    double t_decode = 0, t_masks = 0, t_resize = 0, t_aug = 0;
    for (size_t i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      DecodeOptions dec{3, false};
      Image im = decode_image(ds.images[i].path, dec);
      t_decode += seconds_since(t0);
      t0 = Clock::now();
      Sample s;
      s.image = std::move(im);
      for (const auto& r : ds.images[i].regions) {
        Instance inst;
        inst.class_id = r.class_id;
        inst.mask = rasterize_region(r, s.image.width, s.image.height);
        s.instances.push_back(std::move(inst));
      }
      t_masks += seconds_since(t0);
      t0 = Clock::now();
      apply_resize(s, plan_resize(s.image.width, s.image.height, kResize), MaskResample::AlignCorners);
      t_resize += seconds_since(t0);
      t0 = Clock::now();
      pipeline(s, i);
      t_aug += seconds_since(t0);
    }
    std::printf("photos: %zu from %s\n", n, annotations.c_str());
    std::printf("one thread, ms per photo: decode %.1f, masks %.1f, resize %.1f, augment %.1f\n", 1e3 * t_decode / n,
                1e3 * t_masks / n, 1e3 * t_resize / n, 1e3 * t_aug / n);

    std::vector<int> thread_counts;
    {
      std::stringstream ss(threads_arg);
      std::string tok;
      while (std::getline(ss, tok, ','))
        if (filter.empty() || std::regex_search("loader_" + tok + "t", std::regex(filter))) thread_counts.push_back(std::stoi(tok));
    }
    if (thread_counts.empty()) return 0;
    threads_arg.clear();
    for (int t : thread_counts) threads_arg += (threads_arg.empty() ? "" : ",") + std::to_string(t);
    std::map<int, double> ours_ms;
    for (int t : thread_counts) {
      run_pass(ds, pipeline, t, 1);   // warm-up
      std::vector<double> times;
      for (int r = 0; r < repeats; ++r) times.push_back(run_pass(ds, pipeline, t, 100 + uint64_t(r)));
      std::sort(times.begin(), times.end());
      ours_ms[t] = 1e3 * times[times.size() / 2] / double(n);
    }

    std::map<int, double> ref_ms;
    std::string ref_note = no_ref ? "skipped" : "imgaug 0.4";
    if (!no_ref) {
      const char* py = std::getenv("MRC_PYTHON");
      const std::string cmd = std::string(py ? py : "/usr/bin/python3") + " " +
                              shell_quote(std::string(MRC_SOURCE_DIR) + "/bench/loader_imgaug.py") + " --annotations " +
                              shell_quote(annotations) + (images.empty() ? "" : " --images " + shell_quote(images)) +
                              " --config " + shell_quote(config) + " --workers " + threads_arg + " --repeats " +
                              std::to_string(repeats);
      std::FILE* p = ::popen(cmd.c_str(), "r");
      char line[1024];
      while (p && std::fgets(line, sizeof line, p)) {
        try {
          const auto j = nlohmann::json::parse(line);
          ref_ms[j.at("workers").get<int>()] = j.at("ms_per_image").get<double>();
        } catch (const std::exception&) {
        }
      }
      const int rc = p ? ::pclose(p) : -1;
      if (rc != 0 || ref_ms.empty()) {
        std::fprintf(stderr, "imgaug reference failed (exit %d): install imgaug for %s\n", rc, py ? py : "/usr/bin/python3");
        ref_note = "imgaug unavailable";
      }
    }

    std::printf("\n%-8s %12s %12s %14s %14s %8s\n", "threads", "ours ms/img", "ours img/s", "imgaug ms/img", "imgaug img/s",
                "speedup");
    for (int t : thread_counts) {
      const double o = ours_ms[t];
      const bool has = ref_ms.count(t) != 0;
      if (has)
        std::printf("%-8d %12.2f %12.1f %14.2f %14.1f %7.2fx\n", t, o, 1e3 / o, ref_ms[t], 1e3 / ref_ms[t], ref_ms[t] / o);
      else
        std::printf("%-8d %12.2f %12.1f %14s %14s %8s\n", t, o, 1e3 / o, "-", "-", "-");
    }
    std::printf("\n");
    for (int t : thread_counts) {
      nlohmann::ordered_json j = {{"bench", "loader_" + std::to_string(t) + "t"}, {"device", "cpu"}, {"ours_ms", ours_ms[t]},
                                  {"ref", ref_note}};
      if (ref_ms.count(t)) {
        j["ref_ms"] = ref_ms[t];
        j["ratio"] = ours_ms[t] / ref_ms[t];
      } else {
        j["ref_ms"] = nullptr;
        j["ratio"] = nullptr;
      }
      std::printf("%s\n", j.dump().c_str());
    }
    if (!tmp_dir.empty()) fs::remove_all(tmp_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-loader: %s\n", e.what());
    return 2;
  }
  return 0;
}
