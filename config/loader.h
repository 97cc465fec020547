#pragma once

#include <string>
#include <string_view>

#include "config/config.h"

namespace chaosd {

/// Validates a probe's params table and the measurements it may name in [[sla]]. Implemented by
/// the probe registry; the loader calls it so that all config errors surface at load time.
class ProbeCatalog {
 public:
  virtual ~ProbeCatalog() = default;
  virtual bool has_type(std::string_view type) const = 0;
  virtual std::vector<std::string> types() const = 0;
  /// Throws ConfigError for unknown or invalid params.
  virtual void validate_params(const ProbeConfig& probe, std::string_view key_path) const = 0;
  virtual std::vector<std::string> measurements(std::string_view type) const = 0;
};

/// Parses and validates a TOML config. Throws ConfigError (file:line:col, key path, what to do).
/// `catalog` may be null in tests of the bare schema (probe types then are not checked).
Config load_config_file(const std::string& path, const ProbeCatalog* catalog);
Config load_config_string(std::string_view toml_text, const std::string& source_name,
                          const ProbeCatalog* catalog);

/// TOML rendering of a config with secrets redacted, for --print-config.
std::string print_config(const Config& config);

}  // namespace chaosd
