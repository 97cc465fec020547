#pragma once
// The explicit list of probe types (probes/registry.cpp: one line per type). Each entry knows how
// to validate its params and build a probe, which measurements it produces, and the SLAs that hold
// by default (from our spec) unless the config overrides them.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/loader.h"
#include "probes/probe.h"

namespace chaosd {

struct DefaultSla {
  std::string measurement;
  std::string threshold;  // "< 0.05"
  double objective;
  std::string description;
  std::string subjects = "";  // glob over the measurement's subject; empty: every subject
};

struct ProbeType {
  std::string type;
  std::string summary;
  std::vector<std::string> measurements;
  std::vector<DefaultSla> default_slas;
  /// Validates `config.params` (throws ConfigError with file:line:col) and builds the probe.
  std::function<std::unique_ptr<Probe>(const ProbeConfig& config, const std::string& key_path)>
      create;
};

const std::vector<ProbeType>& probe_types();
const ProbeType* find_probe_type(std::string_view type);

/// The ProbeCatalog the config loader validates against.
class ProbeRegistryCatalog final : public ProbeCatalog {
 public:
  bool has_type(std::string_view type) const override;
  std::vector<std::string> types() const override;
  void validate_params(const ProbeConfig& probe, std::string_view key_path) const override;
  std::vector<std::string> measurements(std::string_view type) const override;
};

}  // namespace chaosd
