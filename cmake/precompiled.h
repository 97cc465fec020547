// Heavy headers shared by every target; precompiled once (Asio coroutine code compiles slowly).
#pragma once
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <nlohmann/json.hpp>
