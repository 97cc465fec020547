#pragma once
// Small process helpers for the lab (start-up and tear-down only, never on the probe path):
// free loopback ports, running a command to completion with a deadline, blocking Redis commands.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace chaosd {

/// A loopback TCP port that is free right now (bind to port 0, read it back, close).
/// Throws std::runtime_error if no socket can be bound.
uint16_t free_loopback_port();

/// A free port P whose cluster bus port P + 10000 is free as well (and below 65536).
uint16_t free_cluster_port();

struct CommandOutcome {
  int exit_code = -1;  // 128+signal when killed; -1 when it could not start
  bool timed_out = false;
  std::string output;  // stdout and stderr together
};

/// Runs argv[0] (looked up in PATH) to completion; kills it at `timeout`.
CommandOutcome run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                           const std::string& stdin_file = "");

/// One command on a fresh blocking connection, for set-up checks. The reply is rendered as text:
/// strings as-is, integers in decimal, nil as "(nil)", errors as the error text, arrays one element
/// per line. nullopt (and `error` set) when the server cannot be reached.
std::optional<std::string> blocking_command(const NodeAddress& node,
                                            const std::vector<std::string>& args,
                                            std::chrono::milliseconds timeout,
                                            std::string* error = nullptr,
                                            const std::optional<std::string>& password = {});

/// Whether `pid` is a live process whose command line contains `needle`.
bool process_matches(pid_t pid, const std::string& needle);

}  // namespace chaosd
