#pragma once
// Polls a condition every 250 ms until it holds or `limit` passes (e2e waits on slow external
// processes: Prometheus rule evaluation, Alertmanager routing).

#include <chrono>
#include <thread>

namespace chaosd::test {

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return predicate();
}

}  // namespace chaosd::test
