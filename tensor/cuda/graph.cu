// CudaGraph (see graph.h): stream capture into the graph's private pool, instantiate, replay.
#include "tensor/cuda/graph.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "tensor/cuda/allocator.h"
#include "tensor/cuda/context.h"

namespace mrc::cuda {

CudaGraph::CudaGraph(int device) : device_(device), pool_(CachingAllocator::get().create_pool(device)) {}

CudaGraph::~CudaGraph() {
  // the graph's work may still be queued: wait before its buffers return to the shared cache
  try {
    if (exec_) synchronize(device_);
  } catch (...) {  // a failed device reports itself on the next call elsewhere
  }
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  outputs_.clear();
  CachingAllocator::get().release_pool(device_, pool_);
}

const std::vector<Tensor>& CudaGraph::capture(const std::function<std::vector<Tensor>()>& fn) {
  if (captured()) throw std::logic_error("CudaGraph::capture: this graph was captured already");
  DeviceGuard guard(device_);
  const cudaStream_t stream = current_stream(device_);
  CachingAllocator& alloc = CachingAllocator::get();
  alloc.set_active_pool(device_, pool_);
  MRC_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  std::vector<Tensor> outs;
  try {
    outs = fn();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream, &broken);
    if (broken) cudaGraphDestroy(broken);
    (void)cudaGetLastError();
    alloc.set_active_pool(device_, 0);
    throw;
  }
  cudaGraph_t g = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &g);
  alloc.set_active_pool(device_, 0);
  if (end != cudaSuccess || !g) {
    (void)cudaGetLastError();
    throw std::runtime_error(std::string("CudaGraph::capture: the capture failed (") + cudaGetErrorString(end) +
                             "); was there a host read, a synchronization or work on another stream inside it?");
  }
  graph_ = g;
  cudaGraphExec_t exec = nullptr;
  MRC_CUDA_CHECK(cudaGraphInstantiate(&exec, graph_, 0));
  exec_ = exec;
  outputs_ = std::move(outs);
  return outputs_;
}

void CudaGraph::replay() {
  if (!captured()) throw std::logic_error("CudaGraph::replay: nothing captured");
  DeviceGuard guard(device_);
  MRC_CUDA_CHECK(cudaGraphLaunch(exec_, current_stream(device_)));
}

}  // namespace mrc::cuda
