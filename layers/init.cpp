// torch.nn.init equivalents (see init.h).
#include "layers/init.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tensor/autograd.h"

namespace mrc::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  if (w.dim() < 2) throw std::invalid_argument("init: fan in/out needs a tensor with at least 2 dims, got " + w.str());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double calculate_gain(const char* nl, double param) {
  if (!std::strcmp(nl, "relu")) return std::sqrt(2.0);
  if (!std::strcmp(nl, "leaky_relu")) return std::sqrt(2.0 / (1 + param * param));
  if (!std::strcmp(nl, "tanh")) return 5.0 / 3.0;
  if (!std::strcmp(nl, "linear") || !std::strcmp(nl, "sigmoid") || !std::strncmp(nl, "conv", 4)) return 1.0;
  throw std::invalid_argument(std::string("init: unknown nonlinearity '") + nl + "'");
}

static void assign(Tensor& t, const Tensor& v) {
  NoGradGuard ng;
  t.copy_(v);
}

void uniform_(Tensor& t, double lo, double hi, Generator* gen) {
  assign(t, Tensor::uniform(t.shape(), lo, hi, gen, t.dtype()));
}
void normal_(Tensor& t, double mean, double std, Generator* gen) {
  assign(t, Tensor::normal(t.shape(), mean, std, gen, t.dtype()));
}
void constant_(Tensor& t, double value) {
  NoGradGuard ng;
  t.fill_(value);
}

static double kaiming_std(const Tensor& t, double a, const char* mode, const char* nl) {
  auto [fi, fo] = fans(t);
  const int64_t fan = std::strcmp(mode, "fan_out") == 0 ? fo : fi;
  return calculate_gain(nl, a) / std::sqrt(double(fan));
}

void kaiming_uniform_(Tensor& t, double a, const char* mode, const char* nl, Generator* gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  uniform_(t, -bound, bound, gen);
}
void kaiming_normal_(Tensor& t, double a, const char* mode, const char* nl, Generator* gen) {
  normal_(t, 0, kaiming_std(t, a, mode, nl), gen);
}
void xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [fi, fo] = fans(t);
  const double bound = gain * std::sqrt(6.0 / double(fi + fo));
  uniform_(t, -bound, bound, gen);
}

}  // namespace mrc::init
