// mrc-dataset: look at an annotation file before training on it.
//   mrc-dataset stats <annotations.json> [--images DIR] [--class-attribute NAME] [--plot FILE.png]
// prints the detected format (VIA 1.x, VIA 2.x, COCO), images, instances per class, image sizes and
// every problem found (missing/corrupt images, size mismatches, EXIF rotations, degenerate or
// out-of-image regions, unknown classes). Bad input: one line on stderr, exit code 2.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "data/load_dataset.h"
#include "data/plot.h"

namespace {

const char* pretty_format(const std::string& f) {
  if (f == "via1") return "VIA 1.x";
  if (f == "via2") return "VIA 2.x";
  if (f == "coco") return "COCO instances";
  return "unknown";
}

int run_stats(const std::string& annotations, const std::string& images, const std::string& class_attribute,
              const std::string& class_name, const std::string& plot, size_t max_problems) {
  using namespace mrc::data;
  DatasetOptions opt;
  opt.class_attribute = class_attribute;
  opt.single_class_name = class_name;
  opt.skip_bad_regions = true;  // list every bad region as a problem instead of stopping at the first
  Warnings problems;
  Dataset ds = load_dataset(annotations, images, opt, &problems);
  DatasetStats st = validate_dataset(ds, problems);

  std::printf("file:      %s\n", annotations.c_str());
  std::printf("format:    %s\n", pretty_format(ds.format));
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspect a VIA or COCO instance-segmentation dataset", "mrc-dataset"};
  app.require_subcommand(1);
  std::string annotations, images, class_attribute, class_name = "object", plot;
  size_t max_problems = 50;
  CLI::App* stats = app.add_subcommand("stats", "Format, images, instances per class, sizes and problems");
  stats->add_option("annotations", annotations, "VIA 1.x/2.x or COCO JSON file")->required();
  stats->add_option("--images", images, "Folder with the photos (default: the annotation file's folder)");
  stats->add_option("--class-attribute", class_attribute,
                    "VIA region attribute holding the class (default: none, a single class)");
  stats->add_option("--class-name", class_name, "Name of the single class when there is no class attribute");
  stats->add_option("--plot", plot, "Write the class distribution as a PNG bar chart");
  stats->add_option("--max-problems", max_problems, "Problems listed one by one (the counts cover all)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "mrc-dataset: %s (see --help)\n", e.what());
    return 2;
  }
  try {
    return run_stats(annotations, images, class_attribute, class_name, plot, max_problems);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mrc-dataset: %s\n", e.what());
    return 2;
  }
}
