// Trajectory parity (see trajectory.h).
#include "parity/trajectory.h"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <memory>
#include <sstream>

#include "optim/adam.h"
#include "optim/sgd.h"
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

}  // namespace

void check_trajectory(ParityChecker& c, const Reference& r, const std::string& opt, std::ostream* log) {
  const ParityOptions& o = c.options();
  const int64_t steps = meta_int(r, "trajectory_steps");
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
  double worst_loss = 0;
  std::string worst_loss_at;
  int64_t bad_losses = 0;
  for (int64_t k = 0; k < steps; ++k) {
    const std::string prefix = opt + "." + std::to_string(k) + ".";
    model->sampler_hook = replay_sampler(c, prefix, r.targets, o.trajectory_box_rtol);
    maskrcnn::Losses losses;
    try {
      losses = model->forward_train(r.images, r.targets);
    } catch (const std::exception& e) {  // e.g. no sampled ROI left after a failed replay
      model->sampler_hook = nullptr;
      c.add(opt + ".steps", false, "stopped at step " + std::to_string(k) + " of " + std::to_string(steps) + ": " + e.what());
      bad_losses += 5;
      break;
    }
    model->sampler_hook = nullptr;
    for (const auto& name : maskrcnn::kLossNames) {
      const double ours = losses.by_name.at(name).item_double(), want = c.at(prefix + "loss." + name).item_double();
      const double rel = std::abs(ours - want) / std::max(std::abs(want), 1e-30);
      if (rel > worst_loss) worst_loss = rel, worst_loss_at = prefix + name;
      bad_losses += rel > o.trajectory_loss_rtol;
      std::ostringstream d;
      d << std::setprecision(8) << ours << " vs " << want << ", rel " << parity_fmt(rel);
      c.add(prefix + "loss." + name, rel <= o.trajectory_loss_rtol, d.str(), true);
    }
    optimizer->zero_grad();
    losses.total.backward();
    optimizer->step();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.add(opt + ".losses", bad_losses == 0,
        std::to_string(steps) + " steps x 5 losses, " + std::to_string(bad_losses) + " beyond " +
            parity_fmt(o.trajectory_loss_rtol) + "; worst " + parity_fmt(worst_loss) + " at " + worst_loss_at);
  double worst = 0;
  std::string worst_name;
  int64_t bad = 0;
  for (const auto& [name, p] : params) {
    const std::string key = opt + ".final." + name;
    if (!c.has(key)) {
      ++bad;
      c.add(key, false, "trainable here, absent from torchvision's final parameters");
      continue;
    }
    const auto ours = p.to_vector<double>(), ref = c.at(key).to_vector<double>();
    if (ours.size() != ref.size()) {
      ++bad;
      c.add(key, false, "size " + std::to_string(ours.size()) + " vs reference " + std::to_string(ref.size()));
      continue;
    }
    double travelled = 0;
    const double rel = norm_rel(ours, ref, initial.at(name), &travelled);
    if (rel > worst) worst = rel, worst_name = name;
    bad += rel > o.trajectory_param_rtol;
    c.add(key, rel <= o.trajectory_param_rtol,
          "||ours - ref|| / ||ref - initial|| = " + parity_fmt(rel) + " (travelled " + parity_fmt(travelled) + ")", true);
  }
  c.add(opt + ".parameters", bad == 0 && !params.empty(),
        std::to_string(params.size() - size_t(bad)) + "/" + std::to_string(params.size()) + " parameters after " +
            std::to_string(steps) + " steps within " + parity_fmt(o.trajectory_param_rtol) +
            " of the distance travelled; worst " + parity_fmt(worst) + " at " + worst_name);
  if (log) *log << opt << " trajectory (" << steps << " steps): " << std::fixed << std::setprecision(2) << seconds << " s" << std::endl;
}

}  // namespace mrc::parity
