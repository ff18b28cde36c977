// Trajectory parity (see trajectory.h).
#include "parity/trajectory.h"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <memory>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "optim/adam.h"
#include "optim/sgd.h"
#include "parity/relu_flips.h"
#include "parity/sampler_replay.h"

namespace mrc::parity {

namespace {

std::unique_ptr<Optimizer> make_optimizer(const Reference& r, const std::string& name, NamedTensors params) {
  if (name == "sgd") {
    SGDOptions o;
    o.lr = meta_double(r, "sgd_lr");
    o.momentum = meta_double(r, "sgd_momentum");
    o.weight_decay = meta_double(r, "sgd_weight_decay");
    return std::make_unique<SGD>(std::move(params), o);
  }
  AdamOptions o;
  o.lr = meta_double(r, "adam_lr");
  o.weight_decay = meta_double(r, "adam_weight_decay");
  o.eps = meta_double(r, "adam_eps");
  return std::make_unique<Adam>(std::move(params), o);
}

double norm_rel(const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& scale_from,
                double* scale) {
  double d2 = 0, s2 = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    d2 += (a[k] - b[k]) * (a[k] - b[k]);
    s2 += (b[k] - scale_from[k]) * (b[k] - scale_from[k]);
  }
  *scale = std::sqrt(s2);
  return s2 > 0 ? std::sqrt(d2 / s2) : (d2 > 0 ? INFINITY : 0);
}

// The comparison whose error is the largest fraction of its tolerance.
struct Worst {
  double ratio = -1, rel = 0, tol = 0;
  std::string where;
  void note(double r, double t, const std::string& w) {
    const double q = std::isnan(r) ? INFINITY : r / t;
    if (q > ratio) ratio = q, rel = r, tol = t, where = w;
  }
  std::string str() const {
    return where.empty() ? "none compared"
                         : "worst " + parity_fmt(rel) + " against tolerance " + parity_fmt(tol) + " at " + where;
  }
};

}  // namespace

void check_trajectory(ParityChecker& c, const Reference& r, const std::string& opt, std::ostream* log,
                      TensorMap* dump) {
  const ParityOptions& o = c.options();
  const int64_t steps = meta_int(r, "trajectory_steps");
  const size_t n_losses = std::size(maskrcnn::kLossNames);
  const Tensor& spread_t = c.at(opt + ".spread.loss");
  if (spread_t.dim() != 2 || spread_t.size(0) != steps || spread_t.size(1) != int64_t(n_losses))
    throw std::runtime_error(r.path + ": " + opt + ".spread.loss must be [" + std::to_string(steps) + ", " +
                             std::to_string(n_losses) + "], got " + spread_t.str());
  const std::vector<double> spread = spread_t.to_vector<double>();
  auto model = reference_model(r);
  model->train();
  NamedTensors params;
  std::map<std::string, std::vector<double>> initial;
  for (const auto& [name, p] : model->named_parameters())
    if (p.requires_grad()) {
      params.push_back({name, p});
      initial[name] = p.to_vector<double>();
    }
  auto optimizer = make_optimizer(r, opt, params);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<double> envelope(n_losses, 0.0);
  Worst loss_worst;
  int64_t bad_losses = 0, compared_losses = 0, relu_flips = 0;
  for (int64_t k = 0; k < steps; ++k) {
    const std::string prefix = opt + "." + std::to_string(k) + ".";
    model->sampler_hook = replay_sampler(c, prefix, r.targets, o.trajectory_box_rtol);
    model->proposal_hook = [&c, &prefix](const std::vector<Tensor>& ours) {
      std::vector<Tensor> replayed;
      for (size_t i = 0; i < ours.size(); ++i)
        replayed.push_back(c.at(prefix + "rpn.proposals." + std::to_string(i)).to(DType::Float32));
      return replayed;
    };
    model->relu_hook = [&c, &prefix, &relu_flips](const std::string& site, const Tensor& pre) {
      const std::string key = prefix + "relu." + site;
      if (!c.has(key + ".idx")) return pre;
      return replay_relu_sides(pre, c.at(key + ".idx"), c.at(key + ".val"), key, &relu_flips);
    };
    maskrcnn::Losses losses;
    maskrcnn::Trace trace;
    if (dump) model->trace = &trace;
    try {
      losses = model->forward_train(r.images, r.targets);
    } catch (const std::exception& e) {  // e.g. no sampled ROI left after a failed replay
      model->sampler_hook = nullptr;
      model->proposal_hook = nullptr;
      model->relu_hook = nullptr;
      model->trace = nullptr;
      c.add(opt + ".steps", false, "stopped at step " + std::to_string(k) + " of " + std::to_string(steps) + ": " + e.what());
      bad_losses += int64_t(n_losses) * (steps - k);
      break;
    }
    model->sampler_hook = nullptr;
    model->proposal_hook = nullptr;
    model->relu_hook = nullptr;
    model->trace = nullptr;
    for (size_t j = 0; j < n_losses; ++j) {
      const std::string& name = maskrcnn::kLossNames[j];
      envelope[j] = std::max(envelope[j], spread[size_t(k) * n_losses + j]);
      const double tol = std::max(o.loss_rtol, o.trajectory_lambda * envelope[j]);
      const double ours = losses.by_name.at(name).item_double(), want = c.at(prefix + "loss." + name).item_double();
      const double rel = std::abs(ours - want) / std::max(std::abs(want), 1e-30);
      const bool pass = rel <= tol;  // false for NaN
      ++compared_losses;
      bad_losses += !pass;
      loss_worst.note(rel, tol, prefix + name);
      std::ostringstream d;
      d << std::setprecision(8) << ours << " vs " << want << ", rel " << parity_fmt(rel) << " (tolerance "
        << parity_fmt(tol) << ")";
      c.add(prefix + "loss." + name, pass, d.str(), true);
    }
    optimizer->zero_grad();
    losses.total.backward();
    optimizer->step();
    if (dump) {
      for (const auto& [name, t] : trace) (*dump)[prefix + "trace." + name] = t;
      for (const auto& [name, p] : params) {
        if (p.grad().defined()) (*dump)[prefix + "grad." + name] = p.grad().clone();
        (*dump)[prefix + "param." + name] = p.detach().clone();
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.add(opt + ".losses", bad_losses == 0 && compared_losses == steps * int64_t(n_losses),
        std::to_string(compared_losses) + " of " + std::to_string(steps) + " steps x 5 losses compared, " +
            std::to_string(bad_losses) + " beyond tolerance; " + loss_worst.str() + "; " + std::to_string(relu_flips) +
            " ReLU input(s) of the heads put on the reference's side of zero");
  Worst param_worst;
  int64_t bad = 0;
  for (const auto& [name, p] : params) {
    const std::string key = opt + ".final." + name;
    if (!c.has(key) || !c.has(opt + ".spread.final." + name)) {
      ++bad;
      c.add(key, false, "trainable here, absent from torchvision's final parameters or their spread");
      continue;
    }
    const auto ours = p.to_vector<double>(), ref = c.at(key).to_vector<double>();
    if (ours.size() != ref.size()) {
      ++bad;
      c.add(key, false, "size " + std::to_string(ours.size()) + " vs reference " + std::to_string(ref.size()));
      continue;
    }
    const double tol = std::max(o.grad_rtol, o.trajectory_lambda * c.at(opt + ".spread.final." + name).item_double());
    double travelled = 0;
    const double rel = norm_rel(ours, ref, initial.at(name), &travelled);
    const bool pass = rel <= tol;  // false for NaN
    bad += !pass;
    param_worst.note(rel, tol, name);
    c.add(key, pass,
          "||ours - ref|| / ||ref - initial|| = " + parity_fmt(rel) + " (tolerance " + parity_fmt(tol) + ", travelled " +
              parity_fmt(travelled) + ")",
          true);
  }
  c.add(opt + ".parameters", bad == 0 && !params.empty(),
        std::to_string(params.size() - size_t(bad)) + "/" + std::to_string(params.size()) + " parameters after " +
            std::to_string(steps) + " steps within tolerance of the distance travelled; " + param_worst.str());
  if (log) *log << opt << " trajectory (" << steps << " steps): " << std::fixed << std::setprecision(2) << seconds << " s" << std::endl;
}

}  // namespace mrc::parity
