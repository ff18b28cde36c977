// mrc-shapes: writes the built-in sample dataset (photos of circles, squares, triangles, hexagons
// and stars on textured backgrounds) as JPEG + a VIA 2.x project, class in region attribute "class".
//   mrc-shapes --out DIR --count N [--size WxH] [--seed S] [--max-shapes K] [--overwrite]
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/app_util.h"
#include "data/shapes.h"

int main(int argc, char** argv) {
  CLI::App app{"Generate the shapes sample dataset (JPEG photos + VIA 2.x annotations)"};
  std::string out, size = "320x240";
  int count = 0, max_shapes = 5;
  uint64_t seed = 0;
  bool overwrite = false, quiet = false;
  int quality = 92;
  app.add_option("--out", out, "Output folder (must not exist; appears whole or not at all)")->required();
  app.add_option("--count", count, "Number of photos")->required();
  app.add_option("--size", size, "Photo size WxH")->capture_default_str();
  app.add_option("--seed", seed, "Random seed")->capture_default_str();
  app.add_option("--max-shapes", max_shapes, "Most shapes per photo")->capture_default_str();
  app.add_option("--quality", quality, "JPEG quality 1..100")->capture_default_str();
  app.add_flag("--overwrite", overwrite, "Replace an existing output folder");
  app.add_flag("--quiet", quiet, "No progress bar");
  if (const auto code = mrc::apps::parse_command_line(app, argc, argv, "mrc-shapes")) return *code;
  return mrc::apps::run_reporting_errors("mrc-shapes", [&] {
    mrc::data::ShapesOptions o;
    char x = 0;
    char tail = 0;
    if (std::sscanf(size.c_str(), "%d%c%d%c", &o.width, &x, &o.height, &tail) != 3 || (x != 'x' && x != 'X') ||
        o.width < 16 || o.height < 16 || o.width > 8192 || o.height > 8192)
      throw std::runtime_error("--size: expected WxH with both sides in 16..8192, got '" + size + "'");
    if (count < 1 || count > 1000000) throw std::runtime_error("--count: expected 1..1000000, got " + std::to_string(count));
    if (max_shapes < 1 || max_shapes > 20)
      throw std::runtime_error("--max-shapes: expected 1..20, got " + std::to_string(max_shapes));
    if (quality < 1 || quality > 100) throw std::runtime_error("--quality: expected 1..100, got " + std::to_string(quality));
    o.seed = seed;
    o.max_shapes = max_shapes;
    mrc::data::write_shapes_dataset(out, count, o, overwrite, !quiet, quality);
    std::fprintf(stderr, "wrote %d photos and %s/via_region_data.json\n", count, out.c_str());
    return 0;
  });
}
