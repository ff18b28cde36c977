// Seeded train/val split by source photo: the augmented copies of a photo (written by mrc-augment)
// always land on the same side as the photo itself, so validation never sees a copy of a training
// photo. A copy's source comes from mrc-augment's record (augment_record.json) or, without it,
// from its name: "<stem>__aug<k>.<ext>" is a copy of the photo whose stem is <stem>.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mrc::data {

// "IMG_1.jpg" -> "IMG_1"; "IMG_1__aug002.jpg" -> "IMG_1"; folders are dropped.
std::string source_key(const std::string& image_id);
// The copy naming used by mrc-augment: ("IMG_1.png", 2) -> "IMG_1__aug002.jpg".
std::string augmented_copy_name(const std::string& source_image_id, int copy_index);

// copy image_id -> source image_id, from mrc-augment's record; throws naming the file and entry.
std::map<std::string, std::string> read_augment_sources(const std::string& record_path);

struct SplitOptions {
  double val_fraction = 0.2;   // of the source photos (groups), rounded half away from zero; at least one
                               // group each side when there are two or more and 0 < fraction < 1
  uint64_t seed = 0;
};

struct Split {
  std::vector<size_t> train, val;   // indices into the input list, ascending
};

// Groups ids by source (sources map first, then source_key), shuffles the groups with the seed
// (independent of the input order) and assigns whole groups to val until the fraction is met.
Split split_by_source(const std::vector<std::string>& image_ids, const SplitOptions& options,
                      const std::map<std::string, std::string>& sources = {});
Split split_dataset(const Dataset& dataset, const SplitOptions& options,
                    const std::map<std::string, std::string>& sources = {});
// The two halves as datasets (same classes and source).
void split_dataset(const Dataset& dataset, const Split& split, Dataset& train, Dataset& val);

}  // namespace mrc::data
