// GraphedTrunk (see graphed_trunk.h): warm-up, capture and replay of backbone + FPN + RPN head.
#include "models/maskrcnn/graphed_trunk.h"

#include <atomic>
#include <stdexcept>

#include "tensor/autograd.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/graph.h"
#else
namespace mrc::cuda {
class CudaGraph {};  // never made without CUDA (run() is eager there); complete only so the member can be destroyed
}  // namespace mrc::cuda
#endif

namespace mrc::maskrcnn {

namespace {
std::atomic<bool> g_cuda_graphs{false};
}  // namespace

void set_cuda_graphs(bool on) { g_cuda_graphs = on; }
bool cuda_graphs() { return g_cuda_graphs; }

GraphedTrunk::GraphedTrunk() = default;
GraphedTrunk::~GraphedTrunk() = default;

TrunkOutput GraphedTrunk::run(BackboneWithFPN& backbone, RPNHead& head, const Tensor& batch) {
  NoGradGuard ng;
  auto eager = [&](const Tensor& x) {
    TrunkOutput t;
    t.features = backbone.forward(x);
    t.head = head.forward(t.features);
    return t;
  };
#ifdef MRC_WITH_CUDA
  if (!batch.is_cuda()) return eager(batch);
  const auto params = backbone.named_parameters();
  const void* weights = params.empty() ? nullptr : params.front().second.raw_data();
  if (!graph_ || input_.shape() != batch.shape() || input_.device() != batch.device() || weights != weights_) {
    graph_.reset();
    input_ = batch.contiguous().clone();
    (void)eager(input_);  // cuDNN plans and every lazily made buffer, outside the capture
    graph_ = std::make_unique<cuda::CudaGraph>(int(batch.device().index));
    graph_->capture([&] {
      TrunkOutput t = eager(input_);
      levels_ = t.features.size();
      std::vector<Tensor> outs = t.features;
      outs.insert(outs.end(), t.head.first.begin(), t.head.first.end());
      outs.insert(outs.end(), t.head.second.begin(), t.head.second.end());
      return outs;
    });
    weights_ = weights;
    ++captures_;
  } else {
    input_.copy_(batch);
  }
  graph_->replay();
  const std::vector<Tensor>& o = graph_->outputs();
  TrunkOutput t;
  t.features.assign(o.begin(), o.begin() + int64_t(levels_));
  t.head.first.assign(o.begin() + int64_t(levels_), o.begin() + int64_t(2 * levels_));
  t.head.second.assign(o.begin() + int64_t(2 * levels_), o.end());
  return t;
#else
  return eager(batch);
#endif
}

}  // namespace mrc::maskrcnn
