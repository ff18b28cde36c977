// CUDA graphs: a fixed sequence of device work (same shapes, same buffers) captured once from the device's
// stream and replayed with one launch, which removes the per-kernel launch cost of the host. Allocations
// made while capturing come from the graph's own memory pool (CachingAllocator's private pools), so the
// buffers the graph reads and writes at replay are never handed to other work; they go back to the shared
// cache when the graph is destroyed.
//
// What capture requires of the captured code: device work only, on the device's stream. A host read or a
// host upload inside it is an error (copy.cu refuses transfers while the stream captures), as is a cuDNN
// algorithm search: run the work once before capturing so plans and weights are in place. Inputs are read at
// their addresses at replay: copy new input data into the tensors the captured code read, then replay().
// Off the path of every op until a caller asks; verified only on a GPU (tests/cuda/test_fast_paths_cuda.cpp).
#pragma once
#include <functional>
#include <vector>

#include "tensor/tensor.h"

struct CUgraph_st;
struct CUgraphExec_st;

namespace mrc::cuda {

class CudaGraph {
 public:
  explicit CudaGraph(int device = 0);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records fn's device work (relaxed capture mode: other threads are not restricted) and instantiates it;
  // nothing runs yet. fn's returned tensors are kept as the outputs: their buffers hold the results of
  // each replay(). Throws (leaving no graph) when the capture fails.
  const std::vector<Tensor>& capture(const std::function<std::vector<Tensor>()>& fn);
  // Queues the captured work on the device's stream.
  void replay();
  bool captured() const { return exec_ != nullptr; }
  const std::vector<Tensor>& outputs() const { return outputs_; }

 private:
  int device_;
  int pool_;
  CUgraph_st* graph_ = nullptr;
  CUgraphExec_st* exec_ = nullptr;
  std::vector<Tensor> outputs_;
};

}  // namespace mrc::cuda
