// Indexing ops, forward and backward: index_select, gather, scatter_add, index_add, index_copy,
// nonzero, boolean_mask, masked_fill, and the joining/splitting ops cat, stack, split, chunk.
//
// Index tensors are int64 (int32 is accepted and widened); an index outside [0, size) raises
// std::invalid_argument naming the op. Every accumulating op (scatter_add, index_add and the backward
// of gather / index_select) adds in a fixed order on the CPU, so results do not depend on threads.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

// Slices of x along dim at the positions of a 1-D index: out.size(dim) == index.numel().
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] (dim = 1); out has index's shape, and
// index.size(d) <= x.size(d) for d != dim.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Out-of-place torch.scatter_add: x + src scattered along dim, out[i][index[i][j][k]][k] += src[i][j][k]
// (dim = 1). index.size(d) <= src.size(d) for every d and <= x.size(d) for d != dim.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// Out-of-place torch.index_add: x with src's slice j added at position index[j] along dim.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// Out-of-place torch.index_copy: x with slice index[j] along dim replaced by src's slice j (for a
// repeated index the last one wins).
Tensor index_copy(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

// Coordinates of the nonzero elements in row-major order, int64 [n, x.dim()]. Not differentiable.
Tensor nonzero(const Tensor& x);
// Rows (slices along dim 0) of x where the 1-D uint8 mask (length x.size(0)) is nonzero.
Tensor boolean_mask(const Tensor& x, const Tensor& mask);
// x with `value` where the uint8 mask (broadcastable to x) is set; differentiable in x.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// Concatenation along an existing dim (all other sizes equal; 1-D empty tensors are skipped, as torch).
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Concatenation along a new dim (all shapes equal).
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Views of x (narrow): pieces of split_size along dim, the last one possibly smaller.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
// Views of x with the given sizes along dim (they must add up to x.size(dim)). Note: split(x, {n}) with
// one brace-enclosed number picks the split_size overload; split_with_sizes says what it means.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// torch.chunk: split with split_size = ceil(size / chunks); may return fewer than `chunks` pieces.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// ---- backends. Index tensors arrive int64, in range. ----
// index_select / index_add / index_copy: x, out, src contiguous and seen as [outer, size, inner]
// around dim; index contiguous 1-D of length k. index_select: out[o, j, :] = x[o, index[j], :].
// index_add: out[o, index[j], :] += src[o, j, :] (j ascending). index_copy: out[o, index[j], :] = src[o, j, :].
// gather / scatter_add: any strides; index's shape equals out's (gather) / src's (scatter_add) shape, and
// x / out have that shape in every dim but dim. gather: out = x[..., index, ...];
// scatter_add: out[..., index, ...] += src (accumulated in order of the index's position along dim).
// nonzero: x contiguous; returns int64 [n, x.dim()].
namespace cpu {
void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
void index_copy(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
Tensor nonzero(const Tensor& x);
}  // namespace cpu
#ifdef MRC_WITH_CUDA
namespace cuda {
void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
void index_copy(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
Tensor nonzero(const Tensor& x);
}  // namespace cuda
#endif

}  // namespace mrc
