// Format conversion, merging and the image-path bookkeeping of mrc-dataset (see convert.h).
#include "data/convert.h"

#include <filesystem>
#include <map>
#include <stdexcept>

#include "data/coco.h"
#include "data/image_io.h"
#include "data/rasterize.h"
#include "data/rle.h"
#include "data/via.h"

namespace mrc::data {

namespace fs = std::filesystem;

std::string check_target_format(const std::string& to, const std::string& what) {
  if (to == "coco" || to == "via2") return to;
  throw std::runtime_error(what + " '" + to + "': expected coco or via2");
}

namespace {

bool in_coco_convention(const Region& r) {
  return r.kind == ShapeKind::Rle || r.coco_coordinates || !r.coco_polygons.empty();
}

void fill_size(ImageRecord& rec, const std::string& source) {
  if (rec.width > 0 && rec.height > 0) return;
  try {
    const ImageInfo info = read_image_info(rec.path);
    rec.width = info.oriented_width();
    rec.height = info.oriented_height();
  } catch (const std::exception& e) {
    throw std::runtime_error(source + ": image '" + rec.image_id +
                             "': its size is not in the annotations and the photo cannot be read: " + e.what());
  }
}

}  // namespace

Dataset in_target_convention(const Dataset& dataset, const std::string& to) {
  const bool coco = check_target_format(to) == "coco";
  Dataset out = dataset;
  for (ImageRecord& rec : out.images) {
    fill_size(rec, dataset.source);
    for (size_t k = 0; k < rec.regions.size(); ++k) {
      Region& r = rec.regions[k];
      // COCO takes VIA shapes as masks; VIA takes COCO polygons as masks (RLE is traced by the VIA writer).
      const bool convert = coco ? !in_coco_convention(r) : in_coco_convention(r) && r.kind != ShapeKind::Rle;
      if (!convert) continue;
      Mask m;
      try {
        m = rasterize_region(r, rec.width, rec.height);
      } catch (const std::exception& e) {
        throw std::runtime_error(dataset.source + ": image '" + rec.image_id + "' region " + std::to_string(k) + ": " +
                                 e.what());
      }
      Region mask_region;
      mask_region.kind = ShapeKind::Rle;
      mask_region.rle_counts = mask_to_rle(m).counts;
      mask_region.class_id = r.class_id;
      mask_region.iscrowd = r.iscrowd;
      r = std::move(mask_region);
    }
  }
  return out;
}

void rebase_image_ids(Dataset& dataset, const std::string& out_path) {
  const fs::path dir = fs::absolute(fs::path(out_path)).parent_path();
  for (ImageRecord& rec : dataset.images) {
    const fs::path rel = fs::absolute(rec.path).lexically_normal().lexically_relative(dir);
    if (!rel.empty()) rec.image_id = rel.generic_string();
  }
}

void write_dataset(const std::string& out_path, const Dataset& dataset, const std::string& to, Warnings* warnings) {
  Dataset ds = in_target_convention(dataset, to);
  rebase_image_ids(ds, out_path);
  if (to == "coco") {
    write_coco(out_path, ds);
  } else {
    ViaWriteOptions vo;
    vo.class_attribute = dataset.class_attribute.empty() ? "class" : dataset.class_attribute;
    write_via(out_path, ds, vo, warnings);
  }
}

Dataset merge_datasets(const std::vector<Dataset>& parts) {
  if (parts.empty()) throw std::runtime_error("merge: no datasets given");
  Dataset out;
  out.format = parts[0].format;
  out.class_attribute = parts[0].class_attribute;
  out.class_rule = parts[0].class_rule;
  out.class_names = {"BG"};
  std::map<std::string, int> class_id;
  std::map<std::string, std::string> seen;  // photo path -> the file that listed it
  for (const Dataset& part : parts) {
    out.source += (out.source.empty() ? "" : " + ") + part.source;
    std::vector<int> remap(part.class_names.size(), 0);
    for (size_t k = 1; k < part.class_names.size(); ++k) {
      auto [it, added] = class_id.emplace(part.class_names[k], int(out.class_names.size()));
      if (added) out.class_names.push_back(part.class_names[k]);
      remap[k] = it->second;
    }
    for (ImageRecord rec : part.images) {
      const std::string key = fs::absolute(rec.path).lexically_normal().string();
      if (auto [it, added] = seen.emplace(key, part.source); !added)
        throw std::runtime_error(part.source + ": image '" + rec.image_id + "' is also listed by " + it->second +
                                 " (merge expects each photo once)");
      rec.coco_id = -1;  // ids of different files collide; the writer numbers the photos
      for (Region& r : rec.regions) r.class_id = remap.at(size_t(r.class_id));
      out.images.push_back(std::move(rec));
    }
  }
  return out;
}

}  // namespace mrc::data
