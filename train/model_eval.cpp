// Dataset -> detections -> AP (see model_eval.h).
#include "train/model_eval.h"

#include "data/loader.h"
#include "data/progress.h"
#include "tensor/autograd.h"
#include "train/distributed.h"
#include "train/inputs.h"

namespace mrc::train {

namespace {

// [data-parallel] one rank's photos as bytes for Distributed::gather (CBOR; masks as binary).
nlohmann::json mask_json(const data::Mask& m) {
  return {{"w", m.width}, {"h", m.height}, {"p", nlohmann::json::binary(m.pixels)}};
}
data::Mask mask_from(const nlohmann::json& j) {
  data::Mask m{j.at("w").get<int>(), j.at("h").get<int>()};
  m.pixels = j.at("p").get_binary();
  return m;
}

std::string to_bytes(const std::vector<GroundTruth>& truth, const std::vector<PhotoDetections>& dets) {
  nlohmann::json photos = nlohmann::json::array();
  for (size_t i = 0; i < truth.size(); ++i) {
    nlohmann::json t{{"boxes", truth[i].boxes}, {"labels", truth[i].labels}, {"masks", nlohmann::json::array()}};
    for (const data::Mask& m : truth[i].masks) t["masks"].push_back(mask_json(m));
    nlohmann::json d{{"boxes", dets[i].boxes}, {"scores", dets[i].scores}, {"labels", dets[i].labels},
                     {"masks", nlohmann::json::array()}};
    for (const data::Mask& m : dets[i].masks) d["masks"].push_back(mask_json(m));
    photos.push_back({{"truth", t}, {"detections", d}});
  }
  const std::vector<uint8_t> cbor = nlohmann::json::to_cbor(photos);
  return std::string(cbor.begin(), cbor.end());
}

void from_bytes(const std::string& bytes, std::vector<GroundTruth>& truth, std::vector<PhotoDetections>& dets) {
  for (const nlohmann::json& p : nlohmann::json::from_cbor(bytes)) {
    GroundTruth t;
    const nlohmann::json& tj = p.at("truth");
    tj.at("boxes").get_to(t.boxes);
    tj.at("labels").get_to(t.labels);
    for (const nlohmann::json& m : tj.at("masks")) t.masks.push_back(mask_from(m));
    PhotoDetections d;
    const nlohmann::json& dj = p.at("detections");
    dj.at("boxes").get_to(d.boxes);
    dj.at("scores").get_to(d.scores);
    dj.at("labels").get_to(d.labels);
    for (const nlohmann::json& m : dj.at("masks")) d.masks.push_back(mask_from(m));
    truth.push_back(std::move(t));
    dets.push_back(std::move(d));
  }
}

// Every photo of `dataset` through detection, with its ground truth.
void detect_photos(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress, std::vector<GroundTruth>& truth,
                   std::vector<PhotoDetections>& dets) {
  data::LoaderOptions o = loader_options(model.config(), false, 0);
  o.batch_size = 1;
  o.max_gt_instances = 0;  // every instance counts
  data::Loader loader(dataset, o);
  loader.begin_epoch(0);
  const Device device = model.named_parameters().front().second.device();
  data::ProgressBar bar(loader.size(), "evaluate", progress ? stderr : nullptr);
  while (std::optional<data::Batch> b = loader.next()) {
    const ModelInputs in = to_model_inputs(*b, device);
    dets.push_back(to_photo_detections(model.detect(in.images).at(0), model.config().DETECTION_MASK_THRESHOLD));
    const maskrcnn::Target& t = in.targets[0];
    const Tensor boxes = t.boxes.cpu().contiguous(), labels = t.labels.cpu().contiguous();
    const Tensor masks = t.masks.cpu().contiguous();
    GroundTruth g;
    const int64_t h = masks.size(1), w = masks.size(2);
    for (int64_t i = 0; i < labels.size(0); ++i) {
      const float* bx = boxes.data<float>() + 4 * i;
      g.boxes.push_back({bx[0], bx[1], bx[2], bx[3]});
      g.labels.push_back(labels.data<int64_t>()[i]);
      data::Mask m{int(w), int(h)};
      const uint8_t* p = masks.data<uint8_t>() + i * h * w;
      std::copy(p, p + h * w, m.pixels.begin());
      g.masks.push_back(std::move(m));
    }
    truth.push_back(std::move(g));
    bar.update();
  }
  bar.finish();
}

}  // namespace

DatasetDetections detect_dataset(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress,
                                 const Distributed* dist) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  DatasetDetections out;
  std::vector<GroundTruth>& truth = out.truth;
  std::vector<PhotoDetections>& dets = out.detections;
  const int ranks = dist ? dist->size() : 1;
  if (ranks == 1) {
    detect_photos(model, dataset, progress, truth, dets);
  } else {  // [data-parallel] rank r takes photos r, r + N, ...; rank 0 puts them back in order
    data::Dataset mine = dataset;
    mine.images.clear();
    for (size_t i = size_t(dist->rank()); i < dataset.images.size(); i += size_t(ranks)) mine.images.push_back(dataset.images[i]);
    if (!mine.images.empty()) detect_photos(model, mine, progress, truth, dets);
    const std::vector<std::string> parts = dist->gather(to_bytes(truth, dets));
    truth.clear(), dets.clear();
    if (dist->is_root()) {
      std::vector<std::vector<GroundTruth>> t(static_cast<size_t>(ranks));
      std::vector<std::vector<PhotoDetections>> d(static_cast<size_t>(ranks));
      for (int r = 0; r < ranks; ++r) from_bytes(parts[size_t(r)], t[size_t(r)], d[size_t(r)]);
      for (size_t i = 0; i < dataset.images.size(); ++i) {
        truth.push_back(std::move(t[i % size_t(ranks)][i / size_t(ranks)]));
        dets.push_back(std::move(d[i % size_t(ranks)][i / size_t(ranks)]));
      }
    }
  }
  if (was_training) model.train();
  return out;
}

Evaluation evaluate_model(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress, const Distributed* dist) {
  const DatasetDetections d = detect_dataset(model, dataset, progress, dist);
  if (dist && !dist->is_root()) return Evaluation{};
  return evaluate_detections(d.truth, d.detections);
}

}  // namespace mrc::train
