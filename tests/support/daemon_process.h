#pragma once
// The redis-chaosd binary run as a child process, the way a user runs it, for e2e tests.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace chaosd::test {

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
};

/// GET/POST on 127.0.0.1:port with a short timeout; status 0 if nothing answered.
HttpReply http_get(int port, const std::string& path);
HttpReply http_post(int port, const std::string& path, const std::string& body = "");
/// Any method ("GET", "POST", "DELETE"), with `Authorization: Bearer <token>` when a token is
/// given.
HttpReply http_call(int port, const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& token = "");

/// Runs a program to completion; returns its exit code and what it wrote to stdout+stderr.
struct Completed {
  int exit_code = -1;
  std::string output;
};
Completed run_program(const std::vector<std::string>& argv, const std::string& stdin_file = "");

class DaemonProcess {
 public:
  /// Starts `redis-chaosd --config <config> --listen 127.0.0.1:<free port> <extra>` and waits until
  /// /healthz answers. Throws if it does not within 10 s.
  DaemonProcess(const std::string& config_toml, std::vector<std::string> extra_args = {});
  ~DaemonProcess();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  void rewrite_config(const std::string& config_toml) const;
  void signal(int signal_number) const;
  /// Waits for the process to exit; nullopt if it did not within `limit`.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  /// Everything the daemon logged so far.
  std::string log() const;
  /// Polls `predicate(GET path)` every 50 ms until it holds or `limit` passes.
  bool wait_for(const std::string& path, const std::function<bool(const HttpReply&)>& predicate,
                std::chrono::milliseconds limit) const;

 private:
  TempDir dir_{"chaosd-daemon"};
  std::filesystem::path config_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

/// The value of the first sample of `metric` whose labels contain every `label_fragments` entry
/// (e.g. {"probe=\"ttl\""}), or nullopt.
std::optional<double> metric_value(const std::string& metrics_text, const std::string& metric,
                                   const std::vector<std::string>& label_fragments = {});

}  // namespace chaosd::test
