#pragma once
// Targets fronted by the fault proxy ([[targets]] proxy_listen): the daemon opens a proxy link
// named after the target (listen -> the target's address) and points its probes, health checks
// and Redis-level faults at the link, so that network_* faults on that link (link = the target's
// name) change what the probes measure. Apps can use the link too (a sidecar: point the app at
// proxy_listen and it sees the same faults). Both ends are loopback: the proxy never relays
// traffic off the machine (the Redis of a sidecar is on localhost).

#include "chaos/proxy/fault_proxy.h"
#include "config/config.h"
#include "daemon/util/result.h"

namespace chaosd {

/// Opens a link for every target with proxy_listen (whose upstream is its configured address)
/// and rewrites the target to the link: `upstream` keeps the real address. Errors name the target.
Status front_targets(FaultProxy& proxy, Config& config);

/// After a reload: points the fresh config's fronted targets at the links that are open already
/// (a changed proxy_listen or address takes effect after a restart; logged).
void apply_fronting(const Config& running, Config& fresh);

}  // namespace chaosd
