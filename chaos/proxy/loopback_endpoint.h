#pragma once
// The fault proxy only ever listens on and connects to loopback addresses: it is a test and
// staging tool, and a proxy reachable from the network (or relaying to anywhere) would be an open
// relay with a fault button.
//
// Thread-safety: pure functions; safe from any thread.

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "daemon/util/result.h"

namespace chaosd {

/// Pure functions, safe from any thread.
/// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback(const boost::asio::ip::address& address);

/// Parses "127.0.0.1:6379", "[::1]:6379" or "localhost:6379" (= 127.0.0.1) into an endpoint.
/// Port 0 is accepted (a listener then binds a free port). Errors name the text and the fix; a
/// non-loopback address is an error.
Result<boost::asio::ip::tcp::endpoint> parse_loopback_endpoint(std::string_view text);

/// Returns the endpoint if its address is loopback, else an error naming `role` ("listen").
Result<boost::asio::ip::tcp::endpoint> require_loopback(const boost::asio::ip::tcp::endpoint& ep,
                                                        std::string_view role);

/// "127.0.0.1:6379" or "[::1]:6379".
std::string to_string(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace chaosd
