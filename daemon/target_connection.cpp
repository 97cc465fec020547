#include "daemon/target_connection.h"

namespace chaosd {

ConnectionOptions connection_options(const TargetConfig& target) {
  ConnectionOptions o;
  o.host = target.host;
  o.port = target.port;
  o.username = target.username;
  o.password = target.password;
  o.db = target.db;
  o.connect_timeout = target.connect_timeout;
  o.command_timeout = target.command_timeout;
  return o;
}

}  // namespace chaosd
