// CUDA graphs for the fixed-size trunk of inference: backbone + FPN + RPN head, captured once per padded
// batch shape (matterport pads every photo to one square, so a run sees one shape) and replayed with one
// launch. Behind set_cuda_graphs, off by default until a GPU run has verified it
// (tests/cuda/test_fast_paths_cuda.cpp compares replay with eager). Without CUDA, or for CPU tensors, the
// switch changes nothing. Training keeps the eager path: the autograd tape is built per step on the host.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "models/maskrcnn/fpn.h"
#include "models/maskrcnn/rpn.h"

namespace mrc::cuda {
class CudaGraph;
}

namespace mrc::maskrcnn {

void set_cuda_graphs(bool on);
bool cuda_graphs();

struct TrunkOutput {
  std::vector<Tensor> features;  // the FPN levels
  std::pair<std::vector<Tensor>, std::vector<Tensor>> head;  // RPN objectness logits and deltas per level
};

class GraphedTrunk {
 public:
  GraphedTrunk();
  ~GraphedTrunk();
  // backbone + FPN + RPN head on a CUDA batch [N, 3, H, W], no autograd. The first call for a shape (or after
  // the weights moved) runs eagerly once (cuDNN plans, caches), then captures; every call then copies the
  // batch into the captured input and replays. The outputs are the graph's buffers, overwritten by the
  // next run.
  TrunkOutput run(BackboneWithFPN& backbone, RPNHead& head, const Tensor& batch);
  int64_t captures() const { return captures_; }  // how many times a graph was captured

 private:
  std::unique_ptr<cuda::CudaGraph> graph_;
  Tensor input_;
  const void* weights_ = nullptr;  // a backbone weight's address at capture: a move invalidates the graph
  size_t levels_ = 0;
  int64_t captures_ = 0;
};

}  // namespace mrc::maskrcnn
