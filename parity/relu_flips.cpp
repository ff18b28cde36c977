// ReLU kinks of the parity check (see relu_flips.h).
#include "parity/relu_flips.h"

#include <cmath>
#include <regex>

#include "kernels/ops.h"
#include "models/maskrcnn/maskrcnn.h"

namespace mrc::parity {

namespace {

// The backbone body's ReLU inputs, as Bottleneck::forward computes them: "body.stem", then per block
// "body.layerX.i.a" (after bn1), ".b" (after bn2), ".out" (bn3 + identity).
void body_relu_inputs(MaskRCNN& m, const Tensor& images, Trace& out) {
  NoGradGuard ng;
  ResNet& b = *m.backbone->body;
  Tensor pre = b.bn1->forward(b.conv1->forward(images));
  out["relu.body.stem"] = pre;
  Tensor h = b.maxpool->forward(relu(pre));
  int li = 1;
  for (Sequential* layer : {b.layer1.get(), b.layer2.get(), b.layer3.get(), b.layer4.get()}) {
    for (size_t i = 0; i < layer->size(); ++i) {
      auto& blk = dynamic_cast<Bottleneck&>((*layer)[i]);
      const std::string w = "relu.body.layer" + std::to_string(li) + "." + std::to_string(i);
      const Tensor a = blk.bn1->forward(blk.conv1->forward(h));
      const Tensor c = blk.bn2->forward(blk.conv2->forward(relu(a)));
      const Tensor sum = add(blk.bn3->forward(blk.conv3->forward(relu(c))), blk.downsample ? blk.downsample->forward(h) : h);
      out[w + ".a"] = a;
      out[w + ".b"] = c;
      out[w + ".out"] = sum;
      h = relu(sum);
    }
    ++li;
  }
}

// Where a ReLU or a parameter sits: a branch (0 trunk = body and FPN, 1 RPN head, 2 box head, 3 mask head)
// and an order within the trunk or the branch; within a bottleneck block a step: conv1/bn1 and the ReLU
// input ".a" 0, conv2/bn2 and ".b" 1, conv3/bn3/downsample and ".out" 2 (2 elsewhere).
struct Place {
  int branch = 0;
  int order = 0;
  int step = 2;
};

int block_step(const std::string& rest) {
  if (rest == "a" || rest.rfind("conv1.", 0) == 0 || rest.rfind("bn1.", 0) == 0) return 0;
  if (rest == "b" || rest.rfind("conv2.", 0) == 0 || rest.rfind("bn2.", 0) == 0) return 1;
  return 2;
}

Place place(const MaskRCNN& m, const std::string& name) {
  static const std::regex block(R"((?:backbone\.)?body\.layer(\d)\.(\d+)\.(.*))");
  std::smatch s;
  if (std::regex_match(name, s, block)) {
    const int layer = std::stoi(s[1]), index = std::stoi(s[2]);
    int order = 1;
    const ResNet& b = *m.backbone->body;
    const Sequential* layers[] = {b.layer1.get(), b.layer2.get(), b.layer3.get(), b.layer4.get()};
    for (int l = 1; l < layer; ++l) order += int(layers[l - 1]->size());
    return {0, order + index, block_step(s[3])};
  }
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (starts("body.") || starts("backbone.body.")) return {0, 0};  // the stem
  if (starts("backbone.fpn.")) return {0, 1000};
  if (starts("rpn.head.conv") || starts("rpn.")) return {1, starts("rpn.head.cls_logits") || starts("rpn.head.bbox_pred") ? 1 : 0};
  if (starts("box_head.fc6") || starts("roi_heads.box_head.fc6")) return {2, 0};
  if (starts("box_head.fc7") || starts("roi_heads.box_head.fc7")) return {2, 1};
  if (starts("roi_heads.box_predictor")) return {2, 2};
  static const std::regex mask_head(R"((?:roi_heads\.)?mask_head\.(\d+).*)");
  if (std::regex_match(name, s, mask_head)) return {3, std::stoi(s[1])};
  if (starts("mask_predictor") || starts("roi_heads.mask_predictor.conv5_mask")) return {3, 100};
  if (starts("roi_heads.mask_predictor")) return {3, 101};
  return {-1, 0};
}

}  // namespace

bool upstream_of(const MaskRCNN& model, const std::string& param, const std::string& flip) {
  const Place p = place(model, param), f = place(model, flip);
  if (p.branch < 0 || f.branch < 0) return false;
  if (p.branch == 0)  // the trunk feeds every branch
    return f.branch != 0 || p.order < f.order || (p.order == f.order && p.step <= f.step);
  return p.branch == f.branch && p.order <= f.order;
}

std::vector<ReluFlip> find_relu_flips(MaskRCNN& model, const Trace& trace, ParityChecker& ref, const RoiRows& rows,
                                      double kink_rtol) {
  Trace ours = trace;
  body_relu_inputs(model, trace.at("images"), ours);
  std::vector<ReluFlip> flips;
  const std::string prefix = "train.relu.", suffix = ".idx";
  for (const std::string& key : ref.names_with_prefix(prefix)) {
    if (key.size() < suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix)) continue;
    const Tensor& idx_t = ref.at(key);
    const std::string where = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
    ReluFlip f;
    f.where = where;
    auto it = ours.find("relu." + where);
    if (it == ours.end()) {
      f.recorded = false;
      flips.push_back(f);
      continue;
    }
    const std::string base = prefix + where;
    const auto idx = idx_t.to_vector<int64_t>();
    const auto val = ref.at(base + ".val").to_vector<double>();
    const double scale = ref.at(base + ".scale").item_double();
    const auto mine = it->second.to_vector<float>();
    // the heads' rows are ROIs: find ours by the row maps
    const std::vector<int64_t>* row_map = where.rfind("box_head.", 0) == 0 ? &rows.box_rows
                                          : (where.rfind("mask_", 0) == 0 ? &rows.mask_rows : nullptr);
    const int64_t row_size = row_map && it->second.dim() > 0 && it->second.size(0) ? it->second.numel() / it->second.size(0) : 0;
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t at = idx[k];
      if (row_map) {
        const int64_t row = row_size ? at / row_size : -1;
        if (row < 0 || row >= int64_t(row_map->size()) || (*row_map)[size_t(row)] < 0) {
          ++f.unmatched;
          continue;
        }
        at = (*row_map)[size_t(row)] * row_size + at % row_size;
      }
      if (at < 0 || at >= int64_t(mine.size())) {
        ++f.unmatched;
        continue;
      }
      ++f.compared;
      const double o = mine[size_t(at)], r = val[k];
      if ((o > 0) == (r > 0)) continue;
      ++f.count;
      const double ro = std::abs(o) / scale, rr = std::abs(r) / scale;
      if (std::max(ro, rr) > std::max(std::abs(f.ours), std::abs(f.ref))) f.ours = o / scale, f.ref = r / scale;
      f.kink = f.kink && ro <= kink_rtol && rr <= kink_rtol;
    }
    flips.push_back(f);
  }
  return flips;
}

Tensor replay_relu_sides(const Tensor& pre, const Tensor& idx, const Tensor& val, const std::string& where,
                         int64_t* flipped) {
  if (idx.dim() != 1 || val.dim() != 1 || idx.size(0) != val.size(0))
    throw std::runtime_error(where + ": idx " + idx.str() + " and val " + val.str() + " must be [n] and [n]");
  const std::vector<int64_t> at = idx.to_vector<int64_t>();
  const std::vector<double> ref = val.to_vector<double>();
  const std::vector<float> ours = pre.to_vector<float>();
  std::vector<float> shift;
  for (size_t i = 0; i < at.size(); ++i) {
    if (at[i] < 0 || at[i] >= int64_t(ours.size()))
      throw std::runtime_error(where + ": position " + std::to_string(at[i]) + " outside the ReLU input " + pre.str());
    const float x = ours[size_t(at[i])];
    if ((x > 0) == (ref[i] > 0)) continue;
    if (shift.empty()) shift.assign(ours.size(), 0.f);
    shift[size_t(at[i])] = -2 * x;
    ++*flipped;
  }
  if (shift.empty()) return pre;
  return add(pre, Tensor::from_vector(shift, pre.shape(), pre.device()));
}

}  // namespace mrc::parity
