// Optimizers against torch.optim: 20-step float64 trajectories of SGD (momentum, dampening, weight
// decay, Nesterov), Adam (+AMSGrad), AdamW, a scheduled SGD and a clipped Adam on a small fixed problem
// (a linear model with fixed data + a quartic), LR schedules against torch.optim.lr_scheduler,
// clip_grad_norm against torch, parameter-group splitting, and a state save/load round trip that
// continues the trajectory identically. Reference data: tests/fixtures/test_optim.py.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/multi_tensor/multi_tensor.h"
#include "kernels/ops.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "optim/clip.h"
#include "optim/lr_schedule.h"
#include "optim/param_groups.h"
#include "optim/sgd.h"
#include "tensor/host_sync.h"
#include "tensor/serialize.h"
#include "test_util.h"

using namespace mrc;

namespace {

constexpr int kSteps = 20;
const char* const kParamNames[] = {"W", "b", "q", "s", "frozen"};

const TensorMap& problem() {
  static const TensorMap p = load_tensors(test::fixture("problem.safetensors"));
  return p;
}
const TensorMap& traj() {
  static const TensorMap t = load_tensors(test::fixture("traj.safetensors"));
  return t;
}

struct Params {
  std::map<std::string, Tensor> p;
  Device device;
  explicit Params(Device dev = Device::cpu()) : device(dev) {
    for (const char* n : kParamNames) p[n] = problem().at(std::string("init.") + n).to(dev).clone().requires_grad_();
  }
  const Tensor& operator[](const std::string& n) const { return p.at(n); }
  NamedTensors named(std::initializer_list<const char*> names) const {
    NamedTensors out;
    for (const char* n : names) out.push_back({n, p.at(n)});
    return out;
  }
};

// The fixture's loss, written with the engine's ops.
Tensor loss_fn(const Params& p, int step) {
  auto d = [&](const char* n) { return problem().at(n).to(p.device); };
  Tensor pred = add(sum(mul(d("X").unsqueeze(1), p["W"].unsqueeze(0)), {2}), p["b"]);
  Tensor loss = mean(pow(sub(pred, d("Y")), 2.0));
  Tensor diff = sub(p["q"], d("T"));
  loss = add(loss, mul(sum(mul(mul(d("C"), diff), diff)), 0.5));
  loss = add(loss, mul(sum(pow(p["q"], 4.0)), 0.05));
  if (step % 2 == 0) loss = add(loss, sum(pow(p["s"] - 1.0, 2.0)));
  return loss;
}

struct Group {
  double lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool nesterov = false, amsgrad = false;
  ParamGroup make(NamedTensors params) const {
    ParamGroup g;
    g.params = std::move(params);
    g.lr = lr, g.momentum = momentum, g.dampening = dampening, g.weight_decay = weight_decay;
    g.beta1 = beta1, g.beta2 = beta2, g.eps = eps, g.nesterov = nesterov, g.amsgrad = amsgrad;
    return g;
  }
};

struct Run {
  std::string type;  // SGD, Adam, AdamW
  Group g0, g1;
};

// The same hyper-parameters as RUNS in the fixture script.
std::map<std::string, Run> runs() {
  std::map<std::string, Run> r;
  r["sgd_momentum_wd"] = {"SGD", {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-2},
                          {.lr = 0.02, .momentum = 0.8, .dampening = 0.1, .weight_decay = 0}};
  r["sgd_nesterov"] = {"SGD", {.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-3, .nesterov = true},
                       {.lr = 0.03, .momentum = 0.5, .nesterov = true}};
  r["sgd_plain"] = {"SGD", {.lr = 0.1}, {.lr = 0.05, .weight_decay = 1e-3}};
  r["adam"] = {"Adam", {.lr = 0.05, .weight_decay = 1e-2}, {.lr = 0.02, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6}};
  r["adam_amsgrad"] = {"Adam", {.lr = 0.05, .amsgrad = true}, {.lr = 0.03, .weight_decay = 1e-3, .amsgrad = true}};
  r["adamw"] = {"AdamW", {.lr = 0.05, .weight_decay = 0.1}, {.lr = 0.02, .weight_decay = 0, .eps = 1e-7}};
  r["sgd_scheduled"] = {"SGD", {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4}, {.lr = 0.05, .momentum = 0.9}};
  r["adam_clipped"] = {"Adam", {.lr = 0.05}, {.lr = 0.05}};
  return r;
}

std::unique_ptr<Optimizer> make_optimizer(const Run& run, const Params& p) {
  std::vector<ParamGroup> groups = {run.g0.make(p.named({"W", "b"})), run.g1.make(p.named({"q", "s", "frozen"}))};
  if (run.type == "SGD") return std::make_unique<SGD>(groups);
  if (run.type == "Adam") return std::make_unique<Adam>(groups);
  return std::make_unique<AdamW>(groups);
}

// One training step of run `name` (step counts from 0).
double train_step(const std::string& name, Optimizer& opt, const Params& p, int step) {
  if (name == "sgd_scheduled") LrSchedule::warmup_multistep(0.1, 5, {8, 14}, 0.3).apply(opt, step);
  opt.zero_grad();
  Tensor loss = loss_fn(p, step);
  loss.backward();
  if (name == "adam_clipped") clip_grad_norm(opt.parameters(), 0.5);
  opt.step();
  return loss.item_double();
}

// max relative error |a - b| / max(|b|, 1e-3) over the elements, so near-zero values get a floor.
double max_rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1e-3));
  return m;
}

double g_worst = 0;  // largest error seen against torch, printed by the trajectory test

void check_against_torch(const std::string& name, const Params& p, int step, double loss) {
  const Tensor ref_loss = traj().at(name + ".loss");
  CHECK(max_rel_err({loss}, {ref_loss.to_vector<double>()[size_t(step)]}) < 1e-6);
  for (const char* n : kParamNames) {
    const Tensor ref = traj().at(name + "." + n).select(0, step);
    const double err = max_rel_err(p[n].detach().cpu().to_vector<double>(), ref.to_vector<double>());
    g_worst = std::max(g_worst, err);
    INFO(name << " step " << step << " param " << n << " rel err " << err);
    CHECK(err < 1e-6);
  }
}

}  // namespace

TEST_CASE("optimizer trajectories equal torch.optim (float64, 20 steps, 2 groups)") {
  for (const auto& [name, run] : runs()) {
    SUBCASE(name.c_str()) {
      g_worst = 0;
      Params p;
      auto opt = make_optimizer(run, p);
      for (int step = 0; step < kSteps; ++step) {
        const double loss = train_step(name, *opt, p, step);
        check_against_torch(name, p, step, loss);
      }
      CHECK(opt->step_count() == kSteps);
      // The parameter that never had a gradient is untouched and has no state.
      CHECK(p["frozen"].detach().to_vector<double>() == problem().at("init.frozen").to_vector<double>());
      CHECK(opt->state("frozen").empty());
      if (run.type != "SGD") {
        // Adam's per-parameter step count: "s" had a gradient on even steps only.
        CHECK(opt->state("s").at("step").item_double() == kSteps / 2);
        CHECK(opt->state("W").at("step").item_double() == kSteps);
      }
      MESSAGE(name << ": largest relative error against torch.optim over 20 steps: " << g_worst);
    }
  }
}

TEST_CASE("state save/load round trip continues the trajectory identically") {
  const mrc::test::TempDir dir;
  for (const std::string name : {"sgd_nesterov", "adam_amsgrad", "adamw", "sgd_scheduled"}) {
    SUBCASE(name.c_str()) {
      const Run run = runs().at(name);
      // uninterrupted
      Params a;
      auto opt_a = make_optimizer(run, a);
      for (int step = 0; step < kSteps; ++step) train_step(name, *opt_a, a, step);
      // 10 steps, checkpoint, fresh parameters and optimizer, load, 10 more steps
      Params b;
      auto opt_b = make_optimizer(run, b);
      for (int step = 0; step < 10; ++step) train_step(name, *opt_b, b, step);
      const std::string path = dir / (name + ".safetensors");
      save_checkpoint(path, b.p, opt_b.get(), 10);
      Params c;
      auto opt_c = make_optimizer(run, c);
      opt_c->set_lr(123.0);  // overwritten by the saved hyper-parameters
      const CheckpointReport rep = load_checkpoint(path, c.p, opt_c.get());
      CHECK(rep.step == 10);
      CHECK(rep.optimizer_loaded);
      CHECK(opt_c->step_count() == 10);
      CHECK(opt_c->param_groups()[0].lr == opt_b->param_groups()[0].lr);
      for (int step = 10; step < kSteps; ++step) {
        const double loss = train_step(name, *opt_c, c, step);
        check_against_torch(name, c, step, loss);
      }
      for (const char* n : kParamNames)
        CHECK(c[n].detach().to_vector<double>() == a[n].detach().to_vector<double>());  // bit-identical
      // And through state_dict directly, without a file.
      Params d;
      auto opt_d = make_optimizer(run, d);
      for (const char* n : kParamNames) d.p[n].detach().copy_(b[n]);
      opt_d->load_state_dict(opt_b->state_dict());
      for (int step = 10; step < kSteps; ++step) train_step(name, *opt_d, d, step);
      for (const char* n : kParamNames)
        CHECK(d[n].detach().to_vector<double>() == a[n].detach().to_vector<double>());
    }
  }
}

TEST_CASE("load_state_dict rejects a state of another optimizer or other parameters, listing every problem") {
  Params p;
  SGD sgd(p.named({"W", "b"}), {.lr = 0.1, .momentum = 0.9});
  Adam adam(p.named({"W", "b"}), {.lr = 0.1});
  loss_fn(p, 0).backward();
  sgd.step();
  CHECK_THROWS_WITH_AS(adam.load_state_dict(sgd.state_dict()), doctest::Contains("SGD"), std::runtime_error);

  SGD other(p.named({"W", "q"}), {.lr = 0.1, .momentum = 0.9});
  try {
    other.load_state_dict(sgd.state_dict());
    FAIL("expected an exception");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("parameters not in the state: q") != std::string::npos);
    CHECK(msg.find("state parameters not in the optimizer: b") != std::string::npos);
    CHECK(msg.find("0.b.momentum_buffer") != std::string::npos);  // an entry for an unknown parameter
  }
  OptimizerState s = sgd.state_dict();
  s.tensors["0.W.momentum_buffer"] = Tensor::zeros({2, 2}, DType::Float64);
  s.tensors["0.W.bogus"] = Tensor::zeros({3, 4}, DType::Float64);
  try {
    sgd.load_state_dict(s);
    FAIL("expected an exception");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("0.W.momentum_buffer (state [2, 2], expected [3, 4])") != std::string::npos);
    CHECK(msg.find("0.W.bogus") != std::string::npos);
  }
}

TEST_CASE("optimizer argument errors") {
  Params p;
  CHECK_THROWS_AS(SGD(p.named({"W", "W"}), {}), std::invalid_argument);
  NamedTensors same = {{"a", p["W"]}, {"b", p["W"]}};
  CHECK_THROWS_AS(SGD(same, {}), std::invalid_argument);
  CHECK_THROWS_AS(SGD(p.named({"W"}), {.lr = 0.1, .dampening = 0.1, .nesterov = true}), std::invalid_argument);
  CHECK_THROWS_AS(SGD(p.named({"W"}), {.lr = -1}), std::invalid_argument);
  CHECK_THROWS_AS(Adam(p.named({"W"}), {.beta1 = 1.0}), std::invalid_argument);
  NamedTensors ints = {{"i", Tensor::zeros({2}, DType::Int64)}};
  CHECK_THROWS_AS(SGD(ints, {}), std::invalid_argument);
  NamedTensors non_leaf = {{"x", mul(p["W"], 2.0)}};
  CHECK_THROWS_AS(SGD(non_leaf, {}), std::invalid_argument);
  ParamGroup dotted;
  dotted.name = "a.b";
  dotted.params = p.named({"q"});
  CHECK_THROWS_AS(SGD(std::vector<ParamGroup>{dotted}), std::invalid_argument);
  // A gradient of the wrong shape is reported by name.
  SGD sgd(p.named({"q"}), {.lr = 0.1});
  p["q"].impl_ptr()->grad = Tensor::zeros({4}, DType::Float64).impl_shared();  // set_grad would refuse it
  CHECK_THROWS_WITH_AS(sgd.step(), doctest::Contains("'q'"), std::runtime_error);
}

TEST_CASE("LR schedules equal torch.optim.lr_scheduler") {
  const TensorMap ref = load_tensors(test::fixture("schedules.safetensors"));
  const std::map<std::string, LrSchedule> ours = {
      {"constant", LrSchedule::constant()},
      {"constant_factor", LrSchedule::constant(0.5, 4)},
      {"multistep", LrSchedule::multistep({4, 9, 9, 15}, 0.3)},
      {"linear_warmup", LrSchedule::linear_warmup(0.001, 10)},
      {"lambda_warmup", LrSchedule::linear_warmup(0.001, 10)},
      {"cosine", LrSchedule::cosine(12, 0.001)},
      {"warmup_multistep", LrSchedule::warmup_multistep(0.1, 5, {8, 14}, 0.5)},
      {"warmup_cosine", LrSchedule::sequential({LrSchedule::linear_warmup(0.1, 5), LrSchedule::cosine(20, 0.0)}, {5})},
  };
  REQUIRE(ref.size() == ours.size());
  const double base[2] = {0.1, 0.02};
  for (const auto& [name, sched] : ours) {
    const Tensor r = ref.at(name);
    const auto v = r.to_vector<double>();
    for (int64_t step = 0; step < r.size(0); ++step)
      for (int g = 0; g < 2; ++g) {
        INFO(name << " step " << step << " group " << g);
        CHECK(test::close(sched.lr(base[g], step), v[size_t(step * 2 + g)], 1e-15, 1e-12));
      }
  }
  // apply() sets each group's lr from its initial lr.
  Params p;
  SGD opt(std::vector<ParamGroup>{Group{.lr = 0.1}.make(p.named({"W"})), Group{.lr = 0.02}.make(p.named({"b"}))});
  ours.at("warmup_multistep").apply(opt, 9);
  CHECK(opt.param_groups()[0].lr == doctest::Approx(0.05).epsilon(1e-14));
  CHECK(opt.param_groups()[1].lr == doctest::Approx(0.01).epsilon(1e-14));
  CHECK(opt.param_groups()[0].initial_lr == 0.1);
  CHECK_THROWS_AS(LrSchedule::multistep({5, 3}), std::invalid_argument);
  CHECK_THROWS_AS(LrSchedule::linear_warmup(0.0, 10), std::invalid_argument);
  CHECK_THROWS_AS(LrSchedule::sequential({LrSchedule::constant()}, {3}), std::invalid_argument);
  CHECK_THROWS_AS(ours.at("cosine").lr(0.1, -1), std::invalid_argument);
}

TEST_CASE("clip_grad_norm equals torch.nn.utils.clip_grad_norm_") {
  const TensorMap ref = load_tensors(test::fixture("clip.safetensors"));
  const std::map<std::string, std::pair<double, double>> cases = {
      {"l2_clip", {0.5, 2.0}}, {"l2_noclip", {100.0, 2.0}}, {"inf_clip", {0.3, INFINITY}},
      {"l1_clip", {1.0, 1.0}}, {"l3_clip", {0.7, 3.0}}};
  for (const auto& [name, c] : cases) {
    INFO(name);
    std::vector<Tensor> ps;
    for (int i = 0; i < 3; ++i) {
      const Tensor g = ref.at("grad" + std::to_string(i));
      ps.push_back(Tensor::zeros_like(g).requires_grad_());
      ps.back().set_grad(g.clone());
    }
    ps.push_back(Tensor::zeros({2}, DType::Float64).requires_grad_());  // no gradient: ignored
    const double total = clip_grad_norm(ps, c.first, {.norm_type = c.second});
    CHECK(test::close(total, ref.at(name + ".total").item_double(), 1e-14, 1e-12));
    for (int i = 0; i < 3; ++i)
      CHECK(max_rel_err(ps[size_t(i)].grad().to_vector<double>(), ref.at(name + ".grad" + std::to_string(i)).to_vector<double>()) <
            1e-12);
    CHECK(!ps[3].grad().defined());
  }
  // float32 gradients (torch computes the norm in float32, we accumulate in double).
  std::vector<Tensor> ps;
  for (int i = 0; i < 3; ++i) {
    const Tensor g = ref.at("f32.grad" + std::to_string(i));
    REQUIRE(g.dtype() == DType::Float32);
    ps.push_back(Tensor::zeros_like(g).requires_grad_());
    ps.back().set_grad(ref.at("grad" + std::to_string(i)).to(DType::Float32));
  }
  CHECK(test::close(clip_grad_norm(ps, 0.5), ref.at("f32.total").item_double(), 0, 1e-6));
  for (int i = 0; i < 3; ++i)
    CHECK(max_rel_err(ps[size_t(i)].grad().to(DType::Float64).to_vector<double>(),
                      ref.at("f32.grad" + std::to_string(i)).to(DType::Float64).to_vector<double>()) < 1e-6);
  // No gradients at all: 0, nothing touched. A non-finite norm throws only when asked.
  CHECK(clip_grad_norm(std::vector<Tensor>{Tensor::zeros({2}, DType::Float64)}, 1.0) == 0.0);
  Tensor bad = Tensor::zeros({2}, DType::Float64).requires_grad_();
  bad.set_grad(Tensor::from_vector(std::vector<double>{NAN, 1.0}));
  CHECK_THROWS_AS(clip_grad_norm(std::vector<Tensor>{bad}, 1.0, {.error_if_nonfinite = true}), std::runtime_error);
  CHECK(std::isnan(clip_grad_norm(std::vector<Tensor>{bad}, 1.0)));
  CHECK(std::isnan(bad.grad().to_vector<double>()[1]));  // scaled by NaN, as torch
}

TEST_CASE("split_weight_decay: no decay on biases, norm parameters and 1-D tensors") {
  auto leaf = [](Shape s) { return Tensor::zeros(s).requires_grad_(); };
  const NamedTensors named = {
      {"backbone.body.conv1.weight", leaf({4, 3, 3, 3})},
      {"backbone.body.bn1.weight", leaf({4})},
      {"backbone.body.bn1.bias", leaf({4})},
      {"backbone.fpn.gn.weight", leaf({2, 2})},  // made 2-D so only the caller's rule catches it
      {"roi_heads.box_head.fc6.weight", leaf({8, 16})},
      {"roi_heads.box_head.fc6.bias", leaf({8})},
      {"frozen.weight", Tensor::zeros({4, 4})},
  };
  ParamGroup hyper;
  hyper.lr = 0.02;
  hyper.momentum = 0.9;
  hyper.weight_decay = 1e-4;
  DecaySplitOptions o;
  o.no_decay = [](const std::string& name, const Tensor&) { return name.find(".gn.") != std::string::npos; };
  const auto groups = split_weight_decay(named, hyper, o);
  REQUIRE(groups.size() == 2);
  auto names = [](const ParamGroup& g) {
    std::vector<std::string> v;
    for (const auto& [n, t] : g.params) v.push_back(n);
    return v;
  };
  CHECK(groups[0].name == "decay");
  CHECK(groups[0].weight_decay == 1e-4);
  CHECK(groups[0].lr == 0.02);
  CHECK(groups[0].momentum == 0.9);
  CHECK(names(groups[0]) == std::vector<std::string>{"backbone.body.conv1.weight", "roi_heads.box_head.fc6.weight"});
  CHECK(groups[1].name == "no_decay");
  CHECK(groups[1].weight_decay == 0);
  CHECK(groups[1].lr == 0.02);
  CHECK(names(groups[1]) == std::vector<std::string>{"backbone.body.bn1.weight", "backbone.body.bn1.bias",
                                                     "backbone.fpn.gn.weight", "roi_heads.box_head.fc6.bias"});
  CHECK(default_no_decay("x.bias", Tensor::zeros({2, 2})));
  CHECK(default_no_decay("x.weight", Tensor::zeros({2})));
  CHECK(!default_no_decay("x.weight", Tensor::zeros({2, 2})));
  // The groups drive an optimizer directly.
  SGD sgd(groups);
  CHECK(sgd.param_groups().size() == 2);
}

TEST_CASE("on CUDA: trajectories equal torch.optim and state survives a checkpoint (skipped without a GPU)") {
  if (!cuda_available()) {
    MESSAGE("no CUDA device: skipped");
    return;
  }
  const mrc::test::TempDir dir;
  const std::string path = dir / "optim.safetensors";
  for (const std::string name : {"sgd_momentum_wd", "adam_amsgrad", "adamw", "adam_clipped"}) {
    INFO(name);
    const Run run = runs().at(name);
    Params p(Device::cuda());
    auto opt = make_optimizer(run, p);
    for (int step = 0; step < 10; ++step) check_against_torch(name, p, step, train_step(name, *opt, p, step));
    CHECK(opt->state("W").at(run.type == "SGD" ? "momentum_buffer" : "exp_avg").is_cuda());
    save_checkpoint(path, p.p, opt.get(), 10);
    Params q(Device::cuda());
    auto opt_q = make_optimizer(run, q);
    load_checkpoint(path, q.p, opt_q.get());
    CHECK(q["W"].is_cuda());
    for (int step = 10; step < kSteps; ++step) check_against_torch(name, q, step, train_step(name, *opt_q, q, step));
  }
}

namespace {

// Float32 parameters of several sizes with random gradients per step; "skip" has no gradient on odd steps
// (so it counts fewer steps than the others), and AMSGrad is switched on after step 2 when asked.
std::map<std::string, std::vector<float>> run_adam_float32(const std::string& type, const AdamOptions& o, bool multi,
                                                           bool amsgrad_later) {
  kernels::set_multi_tensor_optim(multi);
  int64_t step_reads = 0;
  NamedTensors ps;
  const std::vector<int64_t> sizes = {1, 7, 1000, 70000};
  for (size_t i = 0; i < sizes.size(); ++i) {
    Generator g(uint64_t(20 + i));
    ps.emplace_back(std::string("p").append(std::to_string(i)), Tensor::randn({sizes[i]}, &g).requires_grad_(true));
  }
  Generator gs(5);
  ps.emplace_back("skip", Tensor::randn({3, 5}, &gs).requires_grad_(true));
  std::unique_ptr<Optimizer> opt;
  if (type == "Adam") opt = std::make_unique<Adam>(ps, o);
  else opt = std::make_unique<AdamW>(ps, o);
  for (int step = 0; step < 5; ++step) {
    if (amsgrad_later && step == 2) opt->param_groups()[0].amsgrad = true;
    for (size_t i = 0; i < ps.size(); ++i) {
      Generator g(uint64_t(1000 * step + int(i)));
      const Tensor& p = ps[i].second;
      if (ps[i].first == "skip" && step % 2 == 1) p.set_grad(Tensor());
      else p.set_grad(Tensor::randn(p.shape(), &g));
    }
    HostSyncScope reads;
    opt->step();
    step_reads += reads.count();
  }
  kernels::set_multi_tensor_optim(false);
  std::map<std::string, std::vector<float>> out;
  out["host reads"] = {float(step_reads)};
  for (const auto& [n, p] : ps) out[n] = p.detach().to_vector<float>();
  for (const auto& [k, t] : opt->state_dict().tensors) out["state." + k] = t.to(DType::Float32).to_vector<float>();
  return out;
}

}  // namespace

TEST_CASE("multi-tensor Adam/AdamW (the CUDA kernel's CPU twin) equals the per-parameter path bit for bit") {
  struct Case {
    const char* type;
    AdamOptions o;
    bool amsgrad_later;
  };
  const std::vector<Case> cases = {{"Adam", {.lr = 0.01}, false},
                                   {"Adam", {.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 1e-2}, false},
                                   {"Adam", {.lr = 0.02, .weight_decay = 1e-3, .amsgrad = true}, false},
                                   {"Adam", {.lr = 0.02}, true},
                                   {"AdamW", {.lr = 0.03, .weight_decay = 0.1}, false},
                                   {"AdamW", {.lr = 0.03, .weight_decay = 1e-2, .amsgrad = true}, false}};
  for (const Case& c : cases) {
    CAPTURE(c.type);
    CAPTURE(c.o.lr);
    CAPTURE(c.amsgrad_later);
    const auto plain = run_adam_float32(c.type, c.o, false, c.amsgrad_later);
    const auto multi = run_adam_float32(c.type, c.o, true, c.amsgrad_later);
    REQUIRE(plain.size() == multi.size());
    // the multi-tensor pass was taken: it reads each step counter in place, the per-parameter path reads
    // it with item() (one host read per parameter and step: 4 x 5 + 3 for "skip")
    CHECK(plain.at("host reads") == std::vector<float>{23.f});
    CHECK(multi.at("host reads") == std::vector<float>{0.f});
    for (const auto& [k, v] : plain) {
      if (k == "host reads") continue;
      CAPTURE(k);
      REQUIRE(multi.count(k));
      CHECK(multi.at(k) == v);
    }
    // the parameters moved, and "skip" counted 3 steps where the others counted 5
    CHECK(plain.at("state.0.skip.step") == std::vector<float>{3.f});
    CHECK(plain.at("state.0.p0.step") == std::vector<float>{5.f});
  }
}
