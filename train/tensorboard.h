// TensorBoard event files written without TensorFlow: Event / Summary protocol buffers (the few fields of
// tensorflow/core/util/event.proto and framework/summary.proto that scalars and images need, encoded by hand)
// in TFRecord framing (length, masked CRC-32C of the length, data, masked CRC-32C of the data).
//
// One file per writer, "events.out.tfevents.<seconds>.<host>.<pid>" in its folder, appended record by record
// and flushed after each call: TensorBoard reads a file that is being written and ignores a torn last record,
// so this log is the one output of a run that is not written atomically.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "data/image.h"

namespace mrc::train {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masked form of it.
uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);

class EventWriter {
 public:
  // Creates the folder when missing. Throws std::runtime_error naming the file when it cannot be opened.
  explicit EventWriter(const std::string& dir);

  void scalar(const std::string& tag, double value, int64_t step);
  // An RGB or RGBA picture (PNG-encoded into the event).
  void image(const std::string& tag, const data::Image& picture, int64_t step);

  const std::string& path() const { return path_; }

 private:
  void write_event(int64_t step, const std::string& summary_or_version, bool is_summary);
  std::string path_;
  std::ofstream out_;
};

}  // namespace mrc::train
