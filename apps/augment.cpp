// mrc-augment: the study's offline augmentation for class balance.
//   mrc-augment <annotations.json> --images DIR --out DIR --per-class N [--config PIPELINE.json] [--seed S]
// count(c) = number of photos containing class c. Every photo is kept and gets
// ceil(N / count(c)) - 1 augmented copies, c being its rarest class (photos without instances get
// none), so each class ends up in at least N photos. Output folder (appears whole or not at all):
//   the photos        the originals (copied byte for byte) and the copies "<stem>__aug001.jpg"..., beside the
//                     annotation files (so `mrc-train --train OUT/via_region_data.json` finds them)
//   masks/            one lossless 0/255 PNG per instance of every image: "<image stem>_<k>.png",
//                     k = the instance's index (its order in the COCO file and the VIA regions);
//                     one file per instance because instances may overlap
//   annotations.coco.json   COCO instances (originals: their shapes as polygons; copies: exact RLE)
//   via_region_data.json    VIA 2.x project (copies' masks traced to polygons), class attribute "class"
//   augment_record.json     per source photo: its rarest class, its count, and each copy's file and seed
//   class_distribution.png  photos per class before and after; also *_before.png and *_after.png
// A copy in which every instance of the photo's rarest class vanished is redrawn with the next seed
// (at most 8 tries). Seeds: derive_seed(S, photo index, copy index, try), so runs are reproducible
// whatever the number of workers.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/app_util.h"
#include "apps/class_options.h"
#include "data/augment/pipeline.h"
#include "data/class_attribute.h"
#include "data/coco.h"
#include "data/image_io.h"
#include "data/load_dataset.h"
#include "data/plot.h"
#include "data/prefetch.h"
#include "data/progress.h"
#include "data/rasterize.h"
#include "data/rle.h"
#include "data/split.h"
#include "data/via.h"
#include "tensor/atomic_file.h"

namespace fs = std::filesystem;
using namespace mrc::data;
using ojson = nlohmann::ordered_json;

namespace {

struct CopyResult {
  std::string file;
  uint64_t seed = 0;
  int tries = 1;
  ImageRecord record;
  std::vector<std::string> masks;
};

struct PhotoResult {
  ImageRecord original;                 // pointing at the output copy of the original file
  std::vector<std::string> original_masks;
  std::vector<int> original_classes;    // per instance
  std::vector<CopyResult> copies;
  Warnings warnings;                    // from decoding (EXIF rotation...), merged in order
};

std::vector<int> classes_of(const Sample& s) {
  std::vector<int> c;
  for (const auto& inst : s.instances) c.push_back(inst.class_id);
  return c;
}

std::string mask_name(const std::string& image_file, size_t k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%02zu.png", k);
  return fs::path(image_file).stem().string() + buf;
}

std::vector<std::string> write_masks(const StagedDir& out, const std::string& image_file, const Sample& s) {
  std::vector<std::string> names;
  for (size_t k = 0; k < s.instances.size(); ++k) {
    const std::string rel = "masks/" + mask_name(image_file, k);
    write_mask_png(out.file(rel), s.instances[k].mask);
    names.push_back(rel);
  }
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Offline augmentation for class balance: ceil(N / photos of the rarest class) copies per photo"};
  std::string annotations, images_dir, out_dir, config;
  DatasetOptions dopt;
  int per_class = 0, quality = 95;
  int workers = int(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  uint64_t seed = 0;
  bool overwrite = false, quiet = false, ignore_exif = false;
  app.add_option("annotations", annotations, "VIA 1.x/2.x or COCO annotation file")->required();
  app.add_option("--images", images_dir, "Folder of the photos (default: the annotation file's folder)");
  app.add_option("--out", out_dir, "Output folder (must not exist; appears whole or not at all)")->required();
  app.add_option("--per-class", per_class, "Target number of photos per class (N)")->required();
  app.add_option("--config", config, "Augmentation pipeline JSON (default: the study's, configs/augment_study.json)");
  app.add_option("--seed", seed, "Random seed")->capture_default_str();
  mrc::apps::add_class_options(app, dopt);
  app.add_option("--class-name", dopt.single_class_name, "Class name of a single-class dataset (no class attribute)")
      ->capture_default_str();
  app.add_option("--workers", workers, "Worker threads")->capture_default_str();
  app.add_option("--quality", quality, "JPEG quality of the copies")->capture_default_str();
  app.add_flag("--ignore-exif", ignore_exif, "Do not rotate photos by their EXIF orientation (as VIA draws them)");
  app.add_flag("--overwrite", overwrite, "Replace an existing output folder");
  app.add_flag("--quiet", quiet, "No progress bar");
  if (const auto code = mrc::apps::parse_command_line(app, argc, argv, "mrc-augment")) return *code;
  return mrc::apps::run_reporting_errors("mrc-augment", [&] {
    if (per_class < 1) throw std::runtime_error("--per-class: expected a positive number, got " + std::to_string(per_class));
    if (quality < 1 || quality > 100) throw std::runtime_error("--quality: expected 1..100");
    if (workers < 1 || workers > 256) throw std::runtime_error("--workers: expected 1..256");
    if (!images_dir.empty() && !fs::is_directory(images_dir))
      throw std::runtime_error(images_dir + ": --images folder does not exist");
    const aug::Pipeline pipeline = config.empty() ? aug::study_pipeline() : aug::load_pipeline(config);

    Warnings warnings;
    const Dataset ds = load_dataset(annotations, images_dir, dopt, &warnings);
    const int num_classes = ds.num_classes();

    // Output names must not collide (copies are named after the source's stem).
    std::set<std::string> stems;
    for (const auto& rec : ds.images) {
      const std::string stem = fs::path(rec.image_id).stem().string();
      if (!stems.insert(stem).second)
        throw std::runtime_error(annotations + ": image '" + rec.image_id + "': another photo has the same name stem '" +
                                 stem + "' (copies would collide)");
      if (!fs::exists(rec.path)) throw std::runtime_error(annotations + ": image '" + rec.image_id + "': file " + rec.path + " not found");
    }

    // Photos per class, from the annotations (no decoding needed).
    std::vector<std::set<int>> photo_classes(ds.images.size());
    std::vector<int64_t> photos_before(size_t(num_classes) + 1, 0), instances_before(size_t(num_classes) + 1, 0);
    for (size_t i = 0; i < ds.images.size(); ++i) {
      for (const auto& r : ds.images[i].regions) {
        photo_classes[i].insert(r.class_id);
        ++instances_before[size_t(r.class_id)];
      }
      for (int c : photo_classes[i]) ++photos_before[size_t(c)];
    }
    std::vector<int> rarest(ds.images.size(), 0), n_copies(ds.images.size(), 0);
    int64_t total_copies = 0;
    for (size_t i = 0; i < ds.images.size(); ++i) {
      for (int c : photo_classes[i])
        if (rarest[i] == 0 || photos_before[size_t(c)] < photos_before[size_t(rarest[i])]) rarest[i] = c;
      if (rarest[i] > 0) {
        const int64_t cnt = photos_before[size_t(rarest[i])];
        n_copies[i] = int((per_class + cnt - 1) / cnt) - 1;
      }
      total_copies += n_copies[i];
    }

    StagedDir out(out_dir, overwrite);
    fs::create_directory(out.file("masks"));
    LoadOptions lopt;
    lopt.decode.apply_exif = !ignore_exif;

    ProgressBar bar(int64_t(ds.images.size()) + total_copies, "augment", quiet ? nullptr : stderr);
    auto work = [&](int64_t i, int64_t) {
      const ImageRecord& src = ds.images[size_t(i)];
      PhotoResult r;
      const Sample sample = load_sample(ds, size_t(i), lopt, &r.warnings);
      const std::string name = fs::path(src.image_id).filename().string();
      fs::copy_file(src.path, out.file(name), fs::copy_options::overwrite_existing);
      r.original = src;
      r.original.image_id = name;
      r.original.path = out.file(name);
      r.original.width = sample.image.width;
      r.original.height = sample.image.height;
      r.original_masks = write_masks(out, name, sample);
      r.original_classes = classes_of(sample);
      bar.update();
      for (int k = 1; k <= n_copies[size_t(i)]; ++k) {
        CopyResult c;
        c.file = augmented_copy_name(name, k);
        Sample copy;
        for (int t = 0; t < 8; ++t) {
          c.seed = aug::derive_seed(seed, uint64_t(i) * 1000003ull + uint64_t(k), uint64_t(t));
          c.tries = t + 1;
          copy = sample;
          pipeline(copy, c.seed);
          const auto cls = classes_of(copy);
          if (std::find(cls.begin(), cls.end(), rarest[size_t(i)]) != cls.end()) break;
        }
        write_jpeg(out.file(c.file), copy.image, quality);
        c.masks = write_masks(out, c.file, copy);
        c.record.image_id = c.file;
        c.record.path = out.file(c.file);
        c.record.width = copy.image.width;
        c.record.height = copy.image.height;
        for (const auto& inst : copy.instances) {
          Region reg;
          reg.kind = ShapeKind::Rle;
          reg.rle_counts = mask_to_rle(inst.mask).counts;
          reg.class_id = inst.class_id;
          reg.iscrowd = inst.iscrowd;
          c.record.regions.push_back(std::move(reg));
        }
        r.copies.push_back(std::move(c));
        bar.update();
      }
      return r;
    };

    Dataset result;
    result.source = annotations;   // named in the COCO description and in warnings
    result.format = "coco";
    result.class_names = ds.class_names;
    std::vector<int64_t> photos_after(size_t(num_classes) + 1, 0), instances_after(size_t(num_classes) + 1, 0);
    ojson photos = ojson::array();
    {
      Prefetcher<PhotoResult> pf(epoch_order(int64_t(ds.images.size()), 0, 0, false), work, workers, 2 * workers);
      PhotoResult r;
      for (size_t i = 0; pf.next(r); ++i) {
        auto count = [&](const ImageRecord& rec) {
          std::set<int> cls;
          for (const auto& reg : rec.regions) {
            cls.insert(reg.class_id);
            ++instances_after[size_t(reg.class_id)];
          }
          for (int c : cls) ++photos_after[size_t(c)];
        };
        count(r.original);
        for (auto& w : r.warnings.items) warnings.items.push_back(std::move(w));
        ojson p = {{"source", ds.images[i].image_id},
                   {"file", r.original.image_id},
                   {"rarest_class", rarest[i] ? ds.class_names[size_t(rarest[i])] : std::string()},
                   {"photos_with_rarest_class", rarest[i] ? photos_before[size_t(rarest[i])] : 0},
                   {"masks", r.original_masks},
                   {"copies", ojson::array()}};
        result.images.push_back(r.original);
        for (auto& c : r.copies) {
          count(c.record);
          p["copies"].push_back({{"file", c.file}, {"seed", c.seed}, {"tries", c.tries},
                                 {"instances", c.record.regions.size()}, {"masks", c.masks}});
          result.images.push_back(std::move(c.record));
        }
        photos.push_back(std::move(p));
      }
    }
    bar.finish();

    write_coco(out.file("annotations.coco.json"), result);
    Warnings via_warnings;
    ViaWriteOptions vo;
    vo.class_attribute = "class";
    write_via(out.file("via_region_data.json"), result, vo, &via_warnings);

    auto per_class_json = [&](const std::vector<int64_t>& v) {
      ojson j = ojson::object();
      for (int c = 1; c <= num_classes; ++c) j[ds.class_names[size_t(c)]] = v[size_t(c)];
      return j;
    };
    ojson record = {{"annotations", annotations},
                    {"images_dir", images_dir},
                    {"per_class", per_class},
                    {"seed", seed},
                    {"pipeline", config.empty() ? std::string("built-in study pipeline (configs/augment_study.json)") : config},
                    {"class_names", std::vector<std::string>(ds.class_names.begin() + 1, ds.class_names.end())},
                    {"photos_per_class_before", per_class_json(photos_before)},
                    {"photos_per_class_after", per_class_json(photos_after)},
                    {"instances_per_class_before", per_class_json(instances_before)},
                    {"instances_per_class_after", per_class_json(instances_after)},
                    {"copies_total", total_copies},
                    {"photos", std::move(photos)}};
    mrc::write_file_atomic(out.file("augment_record.json"), record.dump(1));

    std::vector<std::string> labels(ds.class_names.begin() + 1, ds.class_names.end());
    std::vector<double> before(photos_before.begin() + 1, photos_before.end());
    std::vector<double> after(photos_after.begin() + 1, photos_after.end());
    write_bar_chart_png(out.file("class_distribution.png"), "Photos per class", labels, before, after, "before", "after");
    write_bar_chart_png(out.file("class_distribution_before.png"), "Photos per class, before", labels, before);
    write_bar_chart_png(out.file("class_distribution_after.png"), "Photos per class, after", labels, after);
    out.commit();

    if (!warnings.empty()) warnings.print(stderr, 5);
    if (!via_warnings.empty()) via_warnings.print(stderr, 5);
    std::fprintf(stderr, "%s\n", class_summary(ds).c_str());
    std::fprintf(stderr, "%zu photos + %lld copies -> %s\n", ds.images.size(), (long long)total_copies, out_dir.c_str());
    for (int c = 1; c <= num_classes; ++c)
      std::fprintf(stderr, "  %-20s photos %lld -> %lld\n", ds.class_names[size_t(c)].c_str(),
                   (long long)photos_before[size_t(c)], (long long)photos_after[size_t(c)]);
    return 0;
  });
}
