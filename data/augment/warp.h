// Geometric kernels behind the augmenters: affine warps of images (nearest or bilinear, constant
// fill) and of instance masks (nearest, fill 0), and flips. The warp follows cv2.warpAffine, which
// imgaug's Affine calls: integer coordinates are pixel centres, source coordinates are computed in
// fixed point and rounded to 1/32 pixel, bilinear weights are exact products of those 1/32 steps,
// and a neighbour outside the image takes the fill value.
#pragma once
#include <cstdint>
#include <vector>

#include "data/image.h"

namespace mrc::data::aug {

// Forward map x' = a x + b y + c, y' = d x + e y + f (source pixel -> destination pixel).
struct AffineMatrix {
  double a = 1, b = 0, c = 0, d = 0, e = 1, f = 0;
  static AffineMatrix translation(double tx, double ty) { return {1, 0, tx, 0, 1, ty}; }
};
// lhs ∘ rhs: apply rhs first, then lhs.
AffineMatrix operator*(const AffineMatrix& lhs, const AffineMatrix& rhs);
AffineMatrix inverse(const AffineMatrix& m);   // zero matrix when singular (as cv2)
// imgaug's test: mean absolute difference to the identity <= eps.
bool is_identity(const AffineMatrix& m, double eps = 1e-4);

enum class Interp { Nearest, Bilinear };

// dst(x, y) = src(forward⁻¹(x, y)); cval holds one value per channel (nullptr: zeros).
Image warp_affine(const Image& src, const AffineMatrix& forward, int out_width, int out_height, Interp interp,
                  const uint8_t* cval = nullptr);
// Nearest warp of every instance's mask (the source offsets are computed once for all of them).
void warp_affine_masks(std::vector<Instance>& instances, const AffineMatrix& forward, int out_width, int out_height);
Mask warp_affine_mask(const Mask& src, const AffineMatrix& forward, int out_width, int out_height);

void flip_horizontal(Image& image);
void flip_vertical(Image& image);
void flip_horizontal(Mask& mask);
void flip_vertical(Mask& mask);

}  // namespace mrc::data::aug
