// libFuzzer target: the Mask R-CNN config loader (models/maskrcnn/config.cpp), from JSON bytes. A config
// it accepts must survive config_to_json -> text -> config_from_json unchanged.
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "models/maskrcnn/config.h"

using namespace mrc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  fuzz::expect_clean_errors([&] {
    const maskrcnn::Config c = maskrcnn::config_from_json(j, "fuzz/config.json");
    const std::string text = maskrcnn::config_to_json(c).dump();
    const maskrcnn::Config again = maskrcnn::config_from_json(nlohmann::json::parse(text), "round trip");
    fuzz::check(maskrcnn::config_to_json(again).dump() == text, "config changed through config_to_json", text);
    for (const auto& n : maskrcnn::kLossNames) (void)c.loss_weight(n);
  });
  return 0;
}
