// Converting, splitting and merging annotation files (mrc-dataset convert/split/merge) without moving a
// mask pixel: VIA shapes and COCO polygons follow different rasterization rules (skimage's pixel centres,
// pycocotools' edge walk), so a region written into the other format is written as its mask (COCO: RLE;
// VIA: the mask's outline traced into polygons that rasterize to the same pixels). Regions already in
// the target's convention keep their shapes (VIA 1.x -> VIA 2.x is lossless, polygons stay editable).
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/warnings.h"

namespace mrc::data {

// "coco" or "via2" (throws on anything else, naming `what`).
std::string check_target_format(const std::string& to, const std::string& what = "--to");

// The dataset with every region expressed in the target's convention (see above). Image sizes that
// the annotations do not give are read from the photos' headers (EXIF orientation applied); throws
// naming the file, the image and the region when a photo or a region cannot be read.
Dataset in_target_convention(const Dataset& dataset, const std::string& to);

// File names made relative to the folder of `out_path`, so the written file finds the photos wherever
// it is put (unchanged when it sits beside them).
void rebase_image_ids(Dataset& dataset, const std::string& out_path);

// Writes `dataset` as COCO instances or a VIA 2.x project (class attribute: the dataset's own, else
// "class"), atomically, after in_target_convention and rebase_image_ids.
void write_dataset(const std::string& out_path, const Dataset& dataset, const std::string& to,
                   Warnings* warnings = nullptr);

// One dataset from several: classes united by name (first appearance order), photos concatenated.
// Throws when two inputs list the same photo file.
Dataset merge_datasets(const std::vector<Dataset>& parts);

}  // namespace mrc::data
