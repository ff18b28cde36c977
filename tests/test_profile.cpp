// The per-stage profile (tensor/profile.h): exclusive times of nested scopes, call counts, backward time
// attributed to the stage a node was recorded in, and nothing recorded while it is off.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <thread>

#include "kernels/ops.h"
#include "tensor/profile.h"

using namespace mrc;

namespace {

std::map<std::string, profile::Entry> table() {
  std::map<std::string, profile::Entry> m;
  for (const auto& e : profile::entries()) m[e.name] = e;
  return m;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct ProfileOn {
  ProfileOn() {
    profile::reset();
    profile::set_enabled(true);
  }
  ~ProfileOn() {
    profile::set_enabled(false);
    profile::reset();
  }
};

}  // namespace

TEST_CASE("profile: nested scopes count their own time only") {
  ProfileOn on;
  const auto start = std::chrono::steady_clock::now();
  {
    profile::Scope outer("outer");
    sleep_ms(20);
    for (int i = 0; i < 2; ++i) {
      profile::Scope inner("inner");
      CHECK(std::string(profile::current_stage()) == "inner");
      sleep_ms(30);
    }
    CHECK(std::string(profile::current_stage()) == "outer");
  }
  CHECK(profile::current_stage() == nullptr);
  const double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const auto t = table();
  REQUIRE(t.count("outer") == 1);
  REQUIRE(t.count("inner") == 1);
  CHECK(t.at("inner").calls == 2);
  CHECK(t.at("inner").ms >= 60);
  CHECK(t.at("outer").ms >= 20);
  CHECK(t.at("outer").ms + t.at("inner").ms <= elapsed + 0.5);  // no time counted twice
  CHECK(profile::report(1).find("inner") != std::string::npos);
}

TEST_CASE("profile: backward time goes to the stage its nodes were recorded in") {
  ProfileOn on;
  const Tensor x = Tensor::randn({64, 64}).requires_grad_();
  Tensor y;
  {
    profile::Scope s("head");
    y = sum(relu(matmul(x, x)));
  }
  y.backward();
  const auto t = table();
  REQUIRE(t.count("backward.head") == 1);
  CHECK(t.at("backward.head").calls == 3);  // sum, relu, matmul
  CHECK(t.count("backward.other") == 0);
}

TEST_CASE("profile: off, scopes and backward record nothing") {
  profile::reset();
  profile::set_enabled(false);
  const Tensor x = Tensor::randn({4, 4}).requires_grad_();
  {
    profile::Scope s("stage");
    CHECK(profile::current_stage() == nullptr);
    sum(mul(x, x)).backward();
  }
  CHECK(profile::entries().empty());
}
