// mrc-dataset: look at, convert, split and merge annotation files.
//   mrc-dataset stats ANNOT.json [--images DIR] [--plot FILE.png]   format, images, instances per class, sizes and
//       every problem found (missing/corrupt images, size mismatches, EXIF rotations, degenerate, out-of-image or
//       far-outside regions, unknown classes)
//   mrc-dataset convert IN.json --to coco|via2 --out FILE      VIA 1.x/2.x <-> COCO with identical masks
//   mrc-dataset split IN.json --val-fraction F --seed S --train-out A.json --val-out B.json   by source photo
//       (augmented copies stay with their photo), the same split mrc-train makes with --val-fraction
//   mrc-dataset merge A.json B.json ... --out FILE [--to coco|via2]   classes united by name
// Every subcommand takes --class-attribute/--class-names (one rule for all apps). Outputs are written
// atomically; file names in them are relative to the output's folder. Bad input: one line on stderr, exit 2.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>

#include "apps/app_util.h"
#include "apps/class_options.h"
#include "data/class_attribute.h"
#include "data/convert.h"
#include "data/load_dataset.h"
#include "data/split.h"
#include "data/plot.h"

namespace {

const char* pretty_format(const std::string& f) {
  if (f == "via1") return "VIA 1.x";
  if (f == "via2") return "VIA 2.x";
  if (f == "coco") return "COCO instances";
  return "unknown";
}

using namespace mrc::data;
namespace fs = std::filesystem;

int run_stats(const std::string& annotations, const std::string& images, DatasetOptions opt, const std::string& plot,
              size_t max_problems) {
  opt.skip_bad_regions = true;  // list every bad region as a problem instead of stopping at the first
  Warnings problems;
  Dataset ds = load_dataset(annotations, images, opt, &problems);
  DatasetStats st = validate_dataset(ds, problems);

  std::printf("file:      %s\n", annotations.c_str());
  std::printf("format:    %s\n", pretty_format(ds.format));
  std::printf("%s\n", class_summary(ds).c_str());
  std::printf("images:    %zu (%zu without regions)\n", st.images, st.images_without_regions);
  int64_t total = 0;
  for (size_t k = 1; k < st.instances_per_class.size(); ++k) total += st.instances_per_class[k];
  std::printf("instances: %lld in %d class%s\n", (long long)total, ds.num_classes(), ds.num_classes() == 1 ? "" : "es");
  size_t name_w = 5;
  for (size_t k = 1; k < ds.class_names.size(); ++k) name_w = std::max(name_w, ds.class_names[k].size());
  for (size_t k = 1; k < ds.class_names.size(); ++k)
    std::printf("  %3zu  %-*s  %lld\n", k, int(name_w), ds.class_names[k].c_str(), (long long)st.instances_per_class[k]);
  if (st.images_with_known_size > 0)
    std::printf("sizes:     width %d..%d, height %d..%d (%zu of %zu images)\n", st.min_width, st.max_width,
                st.min_height, st.max_height, st.images_with_known_size, st.images);
  else
    std::printf("sizes:     unknown (no image could be read)\n");
  if (problems.empty()) {
    std::printf("problems:  none\n");
  } else {
    std::printf("problems:  %zu\n", problems.size());
    for (const auto& [kind, n] : problems.counts()) std::printf("  %-22s %zu\n", kind.c_str(), n);
    size_t shown = 0;
    for (const auto& w : problems.items) {
      if (shown++ == max_problems) {
        std::printf("  ... and %zu more (--max-problems)\n", problems.size() - max_problems);
        break;
      }
      std::printf("  - %s\n", w.message.c_str());
    }
  }
  if (!plot.empty()) {
    std::vector<std::string> labels(ds.class_names.begin() + 1, ds.class_names.end());
    std::vector<double> counts(st.instances_per_class.begin() + 1, st.instances_per_class.end());
    write_bar_chart_png(plot, "Instances per class", labels, counts);
    std::printf("plot:      %s\n", plot.c_str());
  }
  return 0;
}

// The output format: --to when given, else the input's own (VIA 1.x is written as VIA 2.x).
std::string output_format(const std::string& to, const Dataset& ds) {
  if (!to.empty()) return check_target_format(to);
  return ds.format == "coco" ? "coco" : "via2";
}

void print_written(const std::string& path, const Dataset& ds, const std::string& to) {
  size_t regions = 0;
  for (const auto& im : ds.images) regions += im.regions.size();
  std::printf("wrote %s (%s): %zu images, %zu regions, %d classes\n", path.c_str(), to == "coco" ? "COCO" : "VIA 2.x",
              ds.images.size(), regions, ds.num_classes());
}

void print_warnings(const Warnings& w) {
  if (!w.empty()) w.print(stderr, 5);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspect, convert, split and merge VIA / COCO instance-segmentation datasets", "mrc-dataset"};
  app.require_subcommand(1);
  std::string annotations, images, plot, to, out, train_out, val_out;
  std::vector<std::string> inputs;
  size_t max_problems = 50;
  double val_fraction = 0.2;
  uint64_t seed = 0;
  DatasetOptions dopt;
  auto common = [&](CLI::App* sub, bool one_input) {
    if (one_input) sub->add_option("annotations", annotations, "VIA 1.x/2.x or COCO JSON file")->required();
    sub->add_option("--images", images, "Folder with the photos (default: the annotation file's folder)");
    mrc::apps::add_class_options(*sub, dopt);
    sub->add_option("--class-name", dopt.single_class_name, "Name of the single class when there is no class attribute")
        ->capture_default_str();
  };
  CLI::App* stats = app.add_subcommand("stats", "Format, images, instances per class, sizes and problems");
  common(stats, true);
  stats->add_option("--plot", plot, "Write the class distribution as a PNG bar chart");
  stats->add_option("--max-problems", max_problems, "Problems listed one by one (the counts cover all)");
  CLI::App* convert = app.add_subcommand("convert", "VIA 1.x/2.x <-> COCO (masks identical: see data/convert.h)");
  common(convert, true);
  convert->add_option("--to", to, "coco or via2")->required();
  convert->add_option("--out", out, "Output JSON file")->required();
  CLI::App* split = app.add_subcommand("split", "Seeded train/val split by source photo (as mrc-train's --val-fraction)");
  common(split, true);
  split->add_option("--val-fraction", val_fraction, "Share of the source photos held out")->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  split->add_option("--seed", seed, "Seed of the split")->capture_default_str();
  split->add_option("--train-out", train_out, "Training half (JSON)")->required();
  split->add_option("--val-out", val_out, "Validation half (JSON)")->required();
  split->add_option("--to", to, "coco or via2 (default: the input's format; VIA 1.x becomes VIA 2.x)");
  CLI::App* merge = app.add_subcommand("merge", "Several annotation files into one (classes united by name)");
  common(merge, false);
  merge->add_option("inputs", inputs, "VIA 1.x/2.x or COCO JSON files")->required()->expected(2, 1 << 20);
  merge->add_option("--out", out, "Output JSON file")->required();
  merge->add_option("--to", to, "coco or via2 (default: the first input's format)");
  if (const auto code = mrc::apps::parse_command_line(app, argc, argv, "mrc-dataset")) return *code;
  return mrc::apps::run_reporting_errors("mrc-dataset", [&] {
    if (stats->parsed()) return run_stats(annotations, images, dopt, plot, max_problems);
    Warnings warnings;
    if (convert->parsed()) {
      const Dataset ds = load_dataset(annotations, images, dopt);
      std::printf("%s\n", class_summary(ds).c_str());
      write_dataset(out, ds, check_target_format(to), &warnings);
      print_written(out, ds, to);
    } else if (split->parsed()) {
      const Dataset ds = load_dataset(annotations, images, dopt);
      std::printf("%s\n", class_summary(ds).c_str());
      const std::string fmt = output_format(to, ds);
      const fs::path record = fs::path(annotations).parent_path() / "augment_record.json";
      const auto sources = fs::exists(record) ? read_augment_sources(record.string()) : std::map<std::string, std::string>{};
      Dataset train, val;
      split_dataset(ds, split_dataset(ds, SplitOptions{val_fraction, seed}, sources), train, val);
      write_dataset(train_out, train, fmt, &warnings);
      write_dataset(val_out, val, fmt, &warnings);
      print_written(train_out, train, fmt);
      print_written(val_out, val, fmt);
    } else {
      std::vector<Dataset> parts;
      for (size_t i = 0; i < inputs.size(); ++i) {
        DatasetOptions o = dopt;
        if (i > 0) o.class_names.clear();  // each file's own classes; merged by name
        parts.push_back(load_dataset(inputs[i], images, o));
        std::printf("%s: %s\n", inputs[i].c_str(), class_summary(parts.back()).c_str());
      }
      const Dataset merged = merge_datasets(parts);
      const std::string fmt = output_format(to, parts[0]);
      write_dataset(out, merged, fmt, &warnings);
      print_written(out, merged, fmt);
    }
    print_warnings(warnings);
    return 0;
  });
}
