// The op table: one entry per op case (tests/ops/*.def, ggml test-backend-ops style), read by every mode —
// tests/test_op_table.cpp (float64 gradient check on every layout; float64 torch oracle, our float64 and
// float32 runs against it), tests/cuda/test_op_table_cuda.cpp (CUDA against CPU) and bench/op_table.cpp
// (validate, then time). tools/op_table.py reads the same lines for the torch side (fixture and bench peer).
//
// A line of a .def file:   MRC_OP(case, flags, "inputs", "torch expression", our expression)
//   inputs: space-separated "name[:kind][dims](lo,hi)" or "name[:kind][dims]=[v0,v1,...]" (row-major values);
//     names are x, y, z, u in this order (our expression sees them under these names, torch's too);
//     kind f (default): float, differentiated; c: float constant (not differentiated); i: int64.
//     (lo,hi): uniform values in [lo, hi) (floats default to (-1,1); ints need it).
//   torch expression: Python over torch, F (torch.nn.functional), ops (torchvision.ops) and the inputs.
//   flags: 0 or an | of the OpFlag values below.
// One line each, so that tools/op_table.py can read it; a new op (or a new case of one) is one new line.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace mrc::ops_table {

enum OpFlag : unsigned {
  // A sum of products (conv, matmul, linear): the fixture records K and M per element and our float32 run
  // must lie within tests/tolerance.h's rounding bound of the float64 reference (others: 1e-5 forward,
  // 1e-4 gradients, relative to the largest reference element).
  kMultilinear = 1u << 0,
  // Layouts the float64 gradient check skips (tests/gradcheck.h), each with the reason on the .def line.
  kNoBroadcastInputs = 1u << 1,
  // Too large for central differences (their cost grows with the square of the size; ctest stays in seconds):
  // no float64 gradient check, while the torch comparison still checks its gradients. A smaller entry of the
  // same op holds the gradient check.
  kNoGradcheck = 1u << 2,
};

enum class InputKind { Float, Constant, Int };

struct InputSpec {
  std::string name;
  InputKind kind = InputKind::Float;
  Shape shape;
  double lo = -1, hi = 1;
  std::vector<double> values;  // fixed values (row-major) when not empty
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct OpEntry {
  const char* name;
  unsigned flags;
  const char* inputs;
  const char* torch;
  OpFn ours;
};

namespace detail {

[[noreturn]] inline void bad_spec(const OpEntry& e, const std::string& spec, const std::string& why) {
  throw std::invalid_argument(std::string("tests/ops/*.def: op '") + e.name + "', input \"" + spec + "\": " + why);
}

inline std::vector<double> numbers(const OpEntry& e, const std::string& spec, const std::string& list) {
  std::vector<double> out;
  size_t pos = 0;
  while (pos < list.size()) {
    const size_t comma = list.find(',', pos);
    const std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (item.find_first_not_of(' ', used) != std::string::npos) bad_spec(e, spec, "'" + item + "' is not a number");
    } catch (const std::logic_error&) {
      bad_spec(e, spec, "'" + item + "' is not a number");
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

inline InputSpec parse_one(const OpEntry& e, const std::string& s) {
  InputSpec in;
  const size_t open = s.find('[');
  if (open == std::string::npos) bad_spec(e, s, "expected name[dims]");
  const size_t close = s.find(']', open);
  if (close == std::string::npos) bad_spec(e, s, "unclosed [dims]");
  in.name = s.substr(0, open);
  if (const size_t colon = in.name.find(':'); colon != std::string::npos) {
    const std::string kind = in.name.substr(colon + 1);
    in.name.resize(colon);
    if (kind == "f") in.kind = InputKind::Float;
    else if (kind == "c") in.kind = InputKind::Constant;
    else if (kind == "i") in.kind = InputKind::Int;
    else bad_spec(e, s, "kind '" + kind + "' is not f, c or i");
  }
  for (double d : numbers(e, s, s.substr(open + 1, close - open - 1))) in.shape.push_back(int64_t(d));
  const std::string rest = s.substr(close + 1);
  if (rest.empty()) {
    if (in.kind == InputKind::Int) bad_spec(e, s, "int inputs need (lo,hi) or =[values]");
  } else if (rest.front() == '(' && rest.back() == ')') {
    const std::vector<double> r = numbers(e, s, rest.substr(1, rest.size() - 2));
    if (r.size() != 2 || !(r[0] < r[1])) bad_spec(e, s, "expected (lo,hi) with lo < hi");
    in.lo = r[0];
    in.hi = r[1];
  } else if (rest.size() > 3 && rest.substr(0, 2) == "=[" && rest.back() == ']') {
    in.values = numbers(e, s, rest.substr(2, rest.size() - 3));
    int64_t n = 1;
    for (int64_t d : in.shape) n *= d;
    if (int64_t(in.values.size()) != n) bad_spec(e, s, std::to_string(in.values.size()) + " values for " + std::to_string(n) + " elements");
  } else {
    bad_spec(e, s, "expected (lo,hi) or =[values] after the dims");
  }
  return in;
}

}  // namespace detail

// The entry's inputs, checked: names x, y, z, u in order.
inline std::vector<InputSpec> input_specs(const OpEntry& e) {
  static const char* const kNames[] = {"x", "y", "z", "u"};
  std::vector<InputSpec> out;
  const std::string all = e.inputs;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find(' ', pos);
    if (end == std::string::npos) end = all.size();
    if (end > pos) {
      out.push_back(detail::parse_one(e, all.substr(pos, end - pos)));
      if (out.size() > 4 || out.back().name != kNames[out.size() - 1])
        detail::bad_spec(e, out.back().name, std::string("input ") + std::to_string(out.size()) + " must be named " +
                                                 (out.size() > 4 ? "(at most four inputs)" : kNames[out.size() - 1]));
    }
    pos = end + 1;
  }
  if (out.empty()) throw std::invalid_argument(std::string("tests/ops/*.def: op '") + e.name + "' has no inputs");
  return out;
}

// Fresh inputs for one run: floats in `dt` (Float inputs require grad), ints int64, on the CPU.
inline std::vector<Tensor> make_inputs(const OpEntry& e, Generator& gen, DType dt) {
  std::vector<Tensor> out;
  for (const InputSpec& in : input_specs(e)) {
    Tensor t;
    if (!in.values.empty()) {
      t = Tensor::from_vector(in.values, in.shape);
      t = in.kind == InputKind::Int ? t.to(DType::Int64) : t.to(DType::Float32).to(dt);
    } else if (in.kind == InputKind::Int) {
      t = Tensor::randint(int64_t(in.lo), int64_t(in.hi), in.shape, &gen, DType::Int64);
    } else {
      // float32 numbers in both dtypes, as the fixture draws them: a float32 run starts from the same values
      t = Tensor::uniform(in.shape, in.lo, in.hi, &gen, DType::Float32).to(dt);
    }
    if (in.kind == InputKind::Float) t.requires_grad_();
    out.push_back(t);
  }
  return out;
}

// Binds the inputs to the names the .def lines use.
#define MRC_OP(NAME, FLAGS, INPUTS, TORCH, ...)                                                    \
  ::mrc::ops_table::OpEntry{#NAME, FLAGS, INPUTS, TORCH, [](const std::vector<Tensor>& v) -> Tensor { \
                              auto at = [&](size_t i) { return i < v.size() ? v[i] : Tensor(); };   \
                              [[maybe_unused]] const Tensor x = at(0), y = at(1), z = at(2), u = at(3); \
                              return __VA_ARGS__;                                                \
                            }},

// Every entry of every family, in file order.
inline const std::vector<OpEntry>& op_table() {
  static const std::vector<OpEntry> table = [] {
    using ::mrc::Tensor;
    using namespace ::mrc;
    return std::vector<OpEntry>{
#include "elementwise.def"
#include "reduce.def"
#include "views.def"
#include "index.def"
#include "nn.def"
#include "loss.def"
#include "detection.def"
    };
  }();
  return table;
}
#undef MRC_OP

}  // namespace mrc::ops_table
