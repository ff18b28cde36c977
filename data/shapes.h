// The project's built-in sample dataset: photos of circles, squares, triangles, hexagons and stars
// in random colours, sizes and rotations, overlapping, on textured backgrounds (noise, gradients,
// stripes, checkers). Occlusion is resolved: a mask holds only the visible part of its shape.
// Every visible part is stored as a polygon traced along its boundary pixels, and the masks ARE
// those polygons rasterized (skimage.draw rule), so the in-memory samples and the VIA 2.x file
// written by mrc-shapes describe exactly the same pixels. Layouts whose visible parts are not a
// single hole-free blob (a shape cut in two, or a shape inside another) are redrawn.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"

namespace mrc::data {

struct ShapesOptions {
  int width = 320, height = 240;
  int min_shapes = 1, max_shapes = 5;
  uint64_t seed = 0;
  double min_visible = 0.45;   // a shape keeps at least this fraction of its area visible
};

// {"BG", "circle", "square", "triangle", "hexagon", "star"}: class ids 1..5.
const std::vector<std::string>& shapes_class_names();

struct ShapesPhoto {
  Sample sample;                  // image + instances (class, mask, box)
  std::vector<Region> regions;    // one VIA polygon per instance, same order
};

// Photo `index` of the dataset with these options (the same (seed, index) gives the same photo).
ShapesPhoto generate_shapes_photo(int index, const ShapesOptions& options);
// Photos 0..count-1 as Samples (image_id "shapes_00000.jpg"...).
std::vector<Sample> generate_shapes(int count, const ShapesOptions& options);

// Writes count photos as JPEG plus "via_region_data.json" (VIA 2.x project, class in the dropdown
// region attribute "class") into `out_dir`, which appears whole or not at all: everything goes to
// "<out_dir>.tmp.<pid>" first and is renamed at the end. Throws if out_dir exists (unless
// overwrite) or on write errors (the temporary folder is removed). progress: show a progress bar.
void write_shapes_dataset(const std::string& out_dir, int count, const ShapesOptions& options, bool overwrite = false,
                          bool progress = true, int jpeg_quality = 92);

// The polygon (pixel-centre coordinates) following the outer boundary pixels of the 8-connected
// blob containing the first set pixel in raster order; empty when the mask is empty.
void trace_outer_boundary(const Mask& mask, std::vector<float>& xs, std::vector<float>& ys);

}  // namespace mrc::data
