// MPI and NCCL behind Distributed (see distributed.h). Every collective packs its tensors into one
// contiguous bucket on their device, reduces the bucket with one call and unpacks it.
#include "train/distributed.h"

#include "tensor/autograd.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#ifdef MRC_WITH_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only (no deprecated C++ bindings)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif
#ifdef MRC_WITH_NCCL
#include <nccl.h>

#include "tensor/cuda/context.h"
#endif

namespace mrc::train {
namespace {

#ifdef MRC_WITH_MPI
void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw std::runtime_error(std::string("MPI: ") + what + " failed: " + std::string(text, size_t(len)));
}

// MPI counts are ints: a bucket past 2^31 elements goes in pieces.
template <typename F>
void in_chunks(int64_t n, F&& call) {
  for (int64_t off = 0; off < n; off += INT_MAX) call(off, int(std::min<int64_t>(INT_MAX, n - off)));
}
#endif

#ifdef MRC_WITH_NCCL
void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw std::runtime_error(std::string("NCCL: ") + what + " failed: " + ncclGetErrorString(r));
}
#endif

// Launched by an MPI launcher (Open MPI, MPICH/Hydra, PMIx/Slurm), or MRC_MPI=1.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v)) return true;
  const char* force = std::getenv("MRC_MPI");
  return force && std::string(force) == "1";
}

bool g_alive = false;  // one Distributed per process (MPI_Init once)

// Packs tensors of one dtype and device into a fresh bucket; unpack() copies the bucket back.
Tensor pack(const std::vector<Tensor>& tensors) {
  int64_t total = 0;
  for (const Tensor& t : tensors) total += t.numel();
  Tensor bucket = Tensor::empty({total}, tensors.front().dtype(), tensors.front().device());
  int64_t off = 0;
  for (const Tensor& t : tensors) {
    if (t.numel()) bucket.narrow(0, off, t.numel()).copy_(t.reshape({-1}));
    off += t.numel();
  }
  return bucket;
}

void unpack(const Tensor& bucket, const std::vector<Tensor>& tensors) {
  NoGradGuard no_grad;  // parameters are written in place
  int64_t off = 0;
  for (const Tensor& t : tensors) {
    if (t.numel()) const_cast<Tensor&>(t).copy_(bucket.narrow(0, off, t.numel()).view(t.shape()));
    off += t.numel();
  }
}

void check_same_kind(const std::vector<Tensor>& tensors, const char* what) {
  for (const Tensor& t : tensors)
    if (!t.defined() || t.device() != tensors.front().device() || t.dtype() != tensors.front().dtype())
      throw std::invalid_argument(std::string("Distributed::") + what + ": every tensor must be defined, of one dtype and on one device");
}

}  // namespace

bool Distributed::built_with_mpi() {
#ifdef MRC_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool Distributed::built_with_nccl() {
#ifdef MRC_WITH_NCCL
  return true;
#else
  return false;
#endif
}

Distributed::Distributed() {
  if (g_alive) throw std::logic_error("Distributed: only one may exist per process");
  g_alive = true;
#ifdef MRC_WITH_MPI
  if (!launched_by_mpi()) return;
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready) check_mpi(MPI_Init(nullptr, nullptr), "MPI_Init");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);  // errors become exceptions naming the call
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
  mpi_ = true;
#else
  if (std::getenv("OMPI_COMM_WORLD_SIZE") && std::string(std::getenv("OMPI_COMM_WORLD_SIZE")) != "1")
    throw std::runtime_error("started by mpirun with " + std::string(std::getenv("OMPI_COMM_WORLD_SIZE")) +
                             " processes, but this build has no MPI (install libopenmpi-dev and reconfigure)");
#endif
}

Distributed::~Distributed() {
#ifdef MRC_WITH_NCCL
  if (nccl_) ncclCommDestroy(static_cast<ncclComm_t>(nccl_));
#endif
#ifdef MRC_WITH_MPI
  if (mpi_) {
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
  }
#endif
  g_alive = false;
}

std::string Distributed::where() const { return "rank " + std::to_string(rank_) + " of " + std::to_string(size_); }

void Distributed::all_reduce_bucket(Tensor& bucket) const {
#ifdef MRC_WITH_MPI
  const int64_t n = bucket.numel();
  if (bucket.dtype() != DType::Float32 && bucket.dtype() != DType::Float64)
    throw std::invalid_argument("Distributed::all_reduce_sum: float32 or float64 tensors expected");
  const size_t item = bucket.itemsize();
#ifdef MRC_WITH_NCCL
  if (bucket.is_cuda()) {
    const int dev = bucket.device().index;
    cuda::DeviceGuard guard(dev);
    if (!nccl_) {  // rank 0 makes the id, MPI carries it to the others
      ncclUniqueId id;
      if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
      check_mpi(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast of the NCCL id");
      ncclComm_t comm;
      check_nccl(ncclCommInitRank(&comm, size_, id, rank_), "ncclCommInitRank");
      auto* self = const_cast<Distributed*>(this);
      self->nccl_ = comm;
      self->nccl_device_ = dev;
    } else if (dev != nccl_device_) {
      throw std::invalid_argument("Distributed: NCCL communicator is bound to cuda:" + std::to_string(nccl_device_) +
                                  ", tensors are on cuda:" + std::to_string(dev));
    }
    check_nccl(ncclAllReduce(bucket.raw_data(), bucket.raw_data(), size_t(n),
                             bucket.dtype() == DType::Float32 ? ncclFloat32 : ncclFloat64, ncclSum,
                             static_cast<ncclComm_t>(nccl_), cuda::current_stream(dev)),
               "ncclAllReduce");
    return;
  }
#endif
  Tensor host = bucket.is_cuda() ? bucket.cpu() : bucket;
  const MPI_Datatype type = bucket.dtype() == DType::Float32 ? MPI_FLOAT : MPI_DOUBLE;
  char* data = static_cast<char*>(host.raw_data());
  in_chunks(n, [&](int64_t off, int count) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + off * int64_t(item), count, type, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
  });
  if (bucket.is_cuda()) bucket.copy_(host);
#else
  (void)bucket;
#endif
}

void Distributed::all_reduce_sum(const std::vector<Tensor>& tensors) const {
  if (size_ == 1 || tensors.empty()) return;
  check_same_kind(tensors, "all_reduce_sum");
  Tensor bucket = pack(tensors);
  all_reduce_bucket(bucket);
  unpack(bucket, tensors);
}

void Distributed::all_reduce_sum(std::vector<double>& values) const {
  if (size_ == 1 || values.empty()) return;
  Tensor t = Tensor::from_vector(values);
  Tensor bucket = t.to(DType::Float64);
  all_reduce_bucket(bucket);
  values = bucket.to_vector<double>();
}

void Distributed::broadcast(const std::vector<Tensor>& tensors) const {
  if (size_ == 1 || tensors.empty()) return;
#ifdef MRC_WITH_MPI
  // One bucket per dtype, in the order each dtype first appears.
  std::vector<DType> kinds;
  for (const Tensor& t : tensors)
    if (std::find(kinds.begin(), kinds.end(), t.dtype()) == kinds.end()) kinds.push_back(t.dtype());
  for (DType k : kinds) {
    std::vector<Tensor> group;
    for (const Tensor& t : tensors)
      if (t.dtype() == k) group.push_back(t);
    Tensor bucket = pack(group).cpu();
    char* data = static_cast<char*>(bucket.raw_data());
    in_chunks(int64_t(bucket.nbytes()), [&](int64_t off, int count) {
      check_mpi(MPI_Bcast(data + off, count, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    });
    unpack(bucket.to(group.front().device()), group);
  }
#endif
}

std::string Distributed::broadcast(const std::string& bytes) const {
  if (size_ == 1) return bytes;
  std::string out = bytes;
#ifdef MRC_WITH_MPI
  int64_t n = int64_t(bytes.size());
  check_mpi(MPI_Bcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  out.resize(size_t(n));
  in_chunks(n, [&](int64_t off, int count) {
    check_mpi(MPI_Bcast(out.data() + off, count, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  });
#endif
  return out;
}

std::vector<std::string> Distributed::gather(const std::string& bytes) const {
  if (size_ == 1) return {bytes};
  std::vector<std::string> out;
#ifdef MRC_WITH_MPI
  if (bytes.size() > size_t(INT_MAX)) throw std::runtime_error("Distributed::gather: more than 2 GiB from " + where());
  const int n = int(bytes.size());
  std::vector<int> sizes(static_cast<size_t>(size_), 0), offsets(static_cast<size_t>(size_), 0);
  check_mpi(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::string all;
  if (rank_ == 0) {
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) offsets[size_t(r)] = int(total), total += sizes[size_t(r)];
    if (total > INT_MAX) throw std::runtime_error("Distributed::gather: more than 2 GiB in all");
    all.resize(size_t(total));
  }
  check_mpi(MPI_Gatherv(bytes.data(), n, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, 0, MPI_COMM_WORLD),
            "MPI_Gatherv");
  if (rank_ == 0)
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(size_t(offsets[size_t(r)]), size_t(sizes[size_t(r)])));
#endif
  return out;
}

void Distributed::barrier() const {
#ifdef MRC_WITH_MPI
  if (size_ > 1) check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void Distributed::check_same(const std::string& value, const std::string& what) const {
  if (size_ == 1) return;
  const std::string root = broadcast(value);
  std::vector<double> differs{root == value ? 0.0 : 1.0};
  all_reduce_sum(differs);
  if (root != value) throw std::runtime_error(where() + ": " + what + " differs from rank 0's");
  if (differs[0] > 0) throw std::runtime_error(what + " differs between ranks (" + std::to_string(int(differs[0])) + " of " +
                                               std::to_string(size_) + " disagree with rank 0)");
}

void Distributed::fail(const char* app, const std::string& message, int code) const {
  if (size_ == 1) return;
  std::fprintf(stderr, "%s: %s: %s\n", app, where().c_str(), message.c_str());
  std::fflush(stderr);
#ifdef MRC_WITH_MPI
  MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

}  // namespace mrc::train
