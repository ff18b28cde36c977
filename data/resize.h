// Resizing photos and masks for the model: matterport's modes (square, pad64, none, crop, with
// IMAGE_MIN_DIM / IMAGE_MAX_DIM / IMAGE_MIN_SCALE) and torchvision's GeneralizedRCNNTransform rule
// (shorter side to min_size unless the longer side would pass max_size, padded to a multiple of 32).
// A ResizePlan keeps the window and scale so that predictions map back onto the original photo.
// Mini-masks (matterport's USE_MINI_MASK) store each instance's box crop at MINI_MASK_SHAPE.
#pragma once
#include <string>
#include <vector>

#include "data/augment/rng.h"
#include "data/image.h"

namespace mrc::data {

// Bilinear with half-pixel centres and edge clamping: cv2.resize(INTER_LINEAR) and
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False). No antialiasing (neither
// has it). Fixed point (11-bit weights per axis), rounded.
Image resize_bilinear(const Image& src, int out_width, int out_height);

enum class MaskResample {
  Nearest,        // src = floor(dst * in/out): torch's "nearest" (torchvision's mask resize), cv2 INTER_NEAREST
  NearestCentre,  // src = floor((dst + 0.5) * in/out): pixel centres aligned, as the bilinear image
  AlignCorners,   // src = round(dst * (in-1)/(out-1)): scipy.ndimage.zoom(order=0), matterport's resize_mask
  Bilinear,       // bilinear of the 0/1 mask, then > 0.5 (np.around): matterport's mini-masks
};
Mask resize_mask(const Mask& src, int out_width, int out_height, MaskResample how);

enum class ResizeMode { None, Square, Pad64, Crop, Torchvision };
// "none", "square", "pad64", "crop", "torchvision"; throws naming the accepted values.
ResizeMode parse_resize_mode(const std::string& name);
const char* resize_mode_name(ResizeMode mode);

struct ResizeConfig {
  ResizeMode mode = ResizeMode::Square;
  int min_dim = 800;        // IMAGE_MIN_DIM; torchvision: min_size
  int max_dim = 1024;       // IMAGE_MAX_DIM; torchvision: max_size
  double min_scale = 0;     // IMAGE_MIN_SCALE (0: none)
  int size_divisible = 32;  // torchvision's batch padding
  MaskResample masks = MaskResample::AlignCorners;

  static ResizeConfig matterport(ResizeMode mode, int min_dim = 800, int max_dim = 1024, double min_scale = 0);
  static ResizeConfig torchvision(int min_size = 800, int max_size = 1333, int size_divisible = 32);
};

// y1, x1 inclusive; y2, x2 exclusive (matterport's window).
struct Window {
  int y1 = 0, x1 = 0, y2 = 0, x2 = 0;
};

struct ResizePlan {
  int in_width = 0, in_height = 0;
  double scale = 1;                  // matterport's scale; torchvision: the (float32) scale factor
  int resized_width = 0, resized_height = 0;   // after scaling, before padding / cropping
  int out_width = 0, out_height = 0;           // final image size
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  bool cropped = false;
  int crop_x = 0, crop_y = 0;        // crop mode: top-left of the crop in the resized image
  Window window;                     // where the photo lies in the output

  // Effective per-axis scales (resized / original); torchvision maps predictions back with these.
  double scale_x() const { return in_width ? double(resized_width) / in_width : 1.0; }
  double scale_y() const { return in_height ? double(resized_height) / in_height : 1.0; }
  // A box in output coordinates -> original photo coordinates (clipped to the photo).
  Box to_original(const Box& box) const;
  Box to_output(const Box& box) const;
};

// The plan for a photo of this size. Crop mode draws its offset from rng (matterport draws it with
// random.randint); without an rng the crop is centred. Throws std::invalid_argument on bad settings
// (pad64 with min_dim not a multiple of 64, crop with a photo smaller than min_dim after scaling).
ResizePlan plan_resize(int width, int height, const ResizeConfig& config, aug::Rng* rng = nullptr);

Image apply_resize(const Image& image, const ResizePlan& plan);      // padding with 0
Mask apply_resize(const Mask& mask, const ResizePlan& plan, MaskResample how);
// Image and every instance mask; boxes recomputed, instances cropped away dropped.
void apply_resize(Sample& sample, const ResizePlan& plan, MaskResample how);

// Mini-masks: each instance's mask cropped to its box and resized to mini_width x mini_height
// (matterport's minimize_mask), and back to a full-size mask (expand_mask).
Mask minimize_mask(const Mask& mask, const Box& box, int mini_width, int mini_height);
Mask expand_mask(const Mask& mini, const Box& box, int image_width, int image_height);

}  // namespace mrc::data
