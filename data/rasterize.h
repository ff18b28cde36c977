// Shapes -> binary masks, pixel-exact with the reference rasterizers: VIA shapes as skimage.draw
// (polygon, ellipse with rotation; rect as its 4-corner polygon), COCO polygons as pycocotools
// (frPyObjects: 5x upsampled edge walk), COCO RLE decoded. Plus mask utilities (tight box, IoU)
// and load_sample(), which decodes one photo of a Dataset and rasterizes its regions.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"
#include "data/image_io.h"
#include "data/warnings.h"

namespace mrc::data {

// skimage.draw.polygon(r=ys, c=xs, shape=(height, width)) of skimage 0.19: pixel (x, y) is in when
// its centre is inside the polygon, on an edge or on a vertex (O'Rourke's crossing test).
Mask rasterize_polygon(const std::vector<double>& xs, const std::vector<double>& ys, int width, int height);
Mask rasterize_polygon(const std::vector<float>& xs, const std::vector<float>& ys, int width, int height);
// skimage.draw.ellipse(r=cy, c=cx, r_radius=ry, c_radius=rx, shape=(height, width), rotation=-theta):
// theta is VIA's rotation (canvas convention, clockwise on screen, radians).
Mask rasterize_ellipse(double cx, double cy, double rx, double ry, double theta, int width, int height);
// pycocotools: frPyObjects([poly], h, w) then merge + decode. Each polygon is [x0, y0, x1, y1, ...].
// Coordinates are doubles because pycocotools rounds 5*x+0.5 down: float storage would move
// one-decimal COCO points (x.1, x.3, ...) across that boundary.
Mask rasterize_coco_polygons(const std::vector<std::vector<double>>& polygons, int width, int height);
// pycocotools frPyObjects(bbox [x, y, w, h]) + decode (the box as a 4-corner COCO polygon).
Mask rasterize_coco_box(double x, double y, double w, double h, int width, int height);
// The region's outline extent in VIA pixel-centre coordinates (COCO coordinates shifted by -0.5): the
// vertices of polygons, the corners of rects, the bounding square of circles/ellipses. RLE: all infinite.
void region_extent(const Region& region, double& x0, double& y0, double& x1, double& y1);
// "" when the region lies within one photo size of the width x height photo's border, else what is
// wrong ("vertex x 1e+30 lies far outside the 256x192 photo ..."): a typo or an export bug that would
// otherwise be clipped into a mask covering the whole photo. Unknown size (0): "".
std::string far_outside_problem(const Region& region, int width, int height);
// Any region of a Dataset (VIA or COCO convention as recorded in the region). Throws on a polygon
// with < 3 points, an RLE whose size does not match, or a region far outside the photo.
Mask rasterize_region(const Region& region, int width, int height);

// Tight box (x2/y2 exclusive); all-zero box for an empty mask.
Box mask_to_box(const Mask& mask);
// Intersection over union; 0 when both are empty. Sizes must match (throws otherwise).
double mask_iou(const Mask& a, const Mask& b);

struct LoadOptions {
  DecodeOptions decode{3, true};   // RGB, EXIF applied
  bool check_size = true;          // decoded size must equal the annotated size when it is known
  // false: a degenerate region (< 3 points, nothing inside the image) throws; true: warn and skip.
  bool skip_bad_regions = false;
};

// Decodes dataset.images[index] and rasterizes its regions into instances (boxes from the masks).
// Errors name the annotation file, the image and the region index.
Sample load_sample(const Dataset& dataset, size_t index, const LoadOptions& options = {},
                   Warnings* warnings = nullptr);

}  // namespace mrc::data
