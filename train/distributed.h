// Data-parallel training across processes, on the engines the field runs on: MPI launches and connects
// the ranks (`mpirun -np N mrc-train ...`, one machine or many with a hostfile) and all-reduces CPU
// tensors; NCCL all-reduces CUDA tensors, its communicator bootstrapped by broadcasting the NCCL unique
// id over MPI (as llm.c and Horovod do). Both are optional at build time (MRC_WITH_MPI, MRC_WITH_NCCL):
// without MPI a Distributed is a world of one and every collective is the identity.
//
// What a rank does with it (train/global_batch.h, the trainer, mrc-train): takes its shard of every
// global batch (data::LoaderOptions::shard_*), sums its gradients with the others' in one bucketed
// all-reduce per step, applies the same update as every other rank, and leaves the files to rank 0.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mrc::train {

class Distributed {
 public:
  // Joins the MPI job when the process was started by mpirun/mpiexec (or MRC_MPI=1 forces a singleton),
  // else a world of one that never touches MPI. Only one may exist per process.
  Distributed();
  ~Distributed();  // MPI_Finalize (after a normal run; see fail())
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // This rank's place among the ranks on its machine (to pick a GPU and share the cores).
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool is_root() const { return rank_ == 0; }
  bool uses_mpi() const { return mpi_; }
  static bool built_with_mpi();
  static bool built_with_nccl();
  // "rank 1 of 2" (for messages).
  std::string where() const;

  // Sums float32 tensors across the ranks in place, all of them packed into one bucket and reduced with
  // one call (NCCL for CUDA tensors when built with it, else MPI on a host copy). Every rank must pass
  // tensors of the same shapes in the same order.
  void all_reduce_sum(const std::vector<Tensor>& tensors) const;
  // Sums doubles across the ranks in place (exact order: MPI's reduction of a few values).
  void all_reduce_sum(std::vector<double>& values) const;
  // Copies rank 0's tensors onto every rank (one bucket per dtype).
  void broadcast(const std::vector<Tensor>& tensors) const;
  // Rank 0's bytes on every rank.
  std::string broadcast(const std::string& bytes) const;
  // Every rank's bytes, in rank order, on rank 0; an empty list on the others.
  std::vector<std::string> gather(const std::string& bytes) const;
  void barrier() const;

  // Throws std::runtime_error on every rank unless `value` is the same on all of them; `what` names it.
  void check_same(const std::string& value, const std::string& what) const;

  // A rank that cannot go on: prints "NAME: rank R of N: message" on stderr and ends the whole job
  // (MPI_Abort), so that the others do not wait for it in a collective. In a world of one it returns,
  // and the caller reports the error as usual.
  void fail(const char* app, const std::string& message, int code) const;

 private:
  void all_reduce_bucket(Tensor& bucket) const;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool mpi_ = false;
  void* nccl_ = nullptr;  // ncclComm_t, created on the first CUDA all-reduce
  int nccl_device_ = -1;
};

}  // namespace mrc::train
