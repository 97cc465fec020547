#include "probes/serialization.h"

#include <malloc.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <optional>

#include "config/params.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"
#include "probes/serialization_documents.h"

namespace chaosd {
namespace asio = boost::asio;
using json = nlohmann::json;
using std::chrono::steady_clock;

namespace {

// The values only have to outlive one run; the run deletes them when it ends.
constexpr const char* kValueTtlMs = "60000";
// A batch carries at most this many payload bytes (and at least one operation).
constexpr size_t kBatchBytes = size_t{1} << 20;
// Bounds one run's payload volume per format, whatever the params (the run is CPU work on the
// daemon's loop).
constexpr int64_t kMaxPayloadBytesPerFormat = int64_t{64} << 20;
// Documents up to this size are built once and kept for later runs, four distinct ones per size
// (operations cycle through them). A larger size gets one document, built for each run and freed
// after it: a parsed 1 MiB document takes 7.6 MB of heap (every value is a node), and with the
// decoded copy it is compared with, four of them made the daemon's peak RSS 70 MB instead of 25.
constexpr size_t kKeptDocumentMaxBytes = size_t{64} << 10;
constexpr size_t kKeptDocumentsPerSize = 4;

bool keeps_documents(size_t size) { return size <= kKeptDocumentMaxBytes; }

std::string size_label(size_t size) {
  if (size >= (1u << 20) && size % (1u << 20) == 0) return std::to_string(size >> 20) + "MiB";
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size >> 10) + "KiB";
  return std::to_string(size) + "B";
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double since(steady_clock::time_point start) { return seconds_between(start, steady_clock::now()); }

enum class Format { raw, json, msgpack };

const char* name_of(Format f) {
  switch (f) {
    case Format::raw:
      return "raw";
    case Format::json:
      return "json";
    case Format::msgpack:
      return "msgpack";
  }
  return "?";
}

std::string encode(Format f, const json& doc) {
  if (f == Format::json) return doc.dump();
  std::string out;
  json::to_msgpack(doc, out);
  return out;
}

// A value that does not decode is a discarded json, which equals no document.
json decode(Format f, const std::string& bytes) {
  if (f == Format::json) return json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  return json::from_msgpack(bytes, /*strict=*/true, /*allow_exceptions=*/false);
}

}  // namespace

// The tallies of one format at one size.
struct SerializationProbe::Pass {
  std::vector<double> latencies;         // per operation: batch start to its value decoded
  double busy_seconds = 0;               // encode + SET and GET round trips + decode, every batch
  std::vector<double> codec_seconds;     // per batch: encode + decode
  std::vector<double> baseline_seconds;  // per batch: SET and GET round trips of the same bytes
  int64_t ops = 0;
  int64_t intact = 0;
  double encoded_bytes = 0;  // summed over operations
  std::optional<std::string> first_damage;

  void damaged(const std::string& key, const std::string& what) {
    if (!first_damage) first_damage = key + ": " + what;
  }
};

namespace {

struct RoundTrip {
  double seconds = 0;                           // SET pipeline + GET pipeline
  std::vector<std::optional<std::string>> got;  // nullopt: the key was gone
};

}  // namespace

static asio::awaitable<bool> yield_to_loop(ProbeContext& ctx) {
  co_await asio::post(ctx.executor, asio::use_awaitable);
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() == asio::cancellation_type::none;
}

namespace {

// Runs `work` on the codec thread and resumes the caller on its own executor (the loop) with the
// result; an exception thrown by the codec becomes an error.
template <class T>
asio::awaitable<Result<T>> on_codec_thread(asio::thread_pool& pool, std::function<T()>& work) {
  std::string failure;
  auto job = [&work, &failure]() -> asio::awaitable<std::optional<T>> {
    try {
      co_return work();
    } catch (const std::exception& e) {
      failure = e.what();
      co_return std::nullopt;
    }
  };
  auto op = asio::co_spawn(pool, job(), asio::deferred);
  std::optional<T> out = co_await std::move(op)(asio::use_awaitable);
  if (!out) co_return Error{ErrorCode::internal, "codec: " + failure};
  co_return std::move(*out);
}

struct EncodedBatch {
  std::vector<std::string> values;
  double seconds = 0;  // all encodes of the batch
};

struct CheckedBatch {
  std::vector<double> decode_seconds;              // per operation
  std::vector<std::optional<std::string>> damage;  // per operation; nullopt: intact
};

}  // namespace

// Fills `docs` with the documents of one size, built on the codec thread. False when the run was
// cancelled meanwhile.
asio::awaitable<bool> SerializationProbe::build_documents(ProbeContext& ctx, size_t size,
                                                          std::vector<json>& docs) {
  const size_t wanted = keeps_documents(size) ? kKeptDocumentsPerSize : 1;
  while (docs.size() < wanted) {
    const uint64_t seed = size + docs.size();
    std::function<json()> build = [size, seed] { return make_serialization_document(size, seed); };
    auto built = co_await on_codec_thread(codec_thread_, build);
    if (!built) co_return false;
    docs.push_back(std::move(built.value()));
    if (!co_await yield_to_loop(ctx)) co_return false;
  }
  co_return true;
}

// SETs each value under its key in one pipeline, lets the test hook run, then GETs them all in a
// second pipeline. Only the two pipelines are timed.
static asio::awaitable<Result<RoundTrip>> set_then_get(
    ProbeContext& ctx, const SerializationProbe::BetweenSetAndGet& between,
    const std::string& format, const std::vector<std::string>& keys,
    std::vector<std::string>& values) {
  std::vector<Command> sets;
  std::vector<Command> gets;
  for (size_t i = 0; i < keys.size(); ++i) {
    sets.push_back({"SET", keys[i], std::move(values[i]), "PX", kValueTtlMs});
    gets.push_back({"GET", keys[i]});
  }
  RoundTrip trip;
  auto start = steady_clock::now();
  auto set = co_await ctx.redis.pipeline(std::move(sets));
  trip.seconds += since(start);
  for (auto& reply : set) {
    if (!reply) co_return reply.error();
    if (!reply.value().is_ok_status()) {
      co_return Error{ErrorCode::protocol, "SET answered " + reply.value().debug_string()};
    }
  }
  if (between) between(format, keys);
  start = steady_clock::now();
  auto got = co_await ctx.redis.pipeline(std::move(gets));
  trip.seconds += since(start);
  for (auto& reply : got) {
    if (!reply) co_return reply.error();
    if (reply.value().is_nil()) {
      trip.got.emplace_back();
    } else {
      trip.got.emplace_back(reply.value().str());
    }
  }
  co_return trip;
}

asio::awaitable<Status> SerializationProbe::measure_size(ProbeContext& ctx, size_t size,
                                                         ProbeResult& result) {
  const auto max_by_bytes = static_cast<size_t>(std::max<int64_t>(1, params_.max_bytes / size));
  const size_t ops = std::min<size_t>(params_.ops, max_by_bytes);
  const size_t batch = std::min(
      {static_cast<size_t>(params_.pipeline), std::max<size_t>(1, kBatchBytes / size), ops});
  const std::vector<std::string> raw = {make_raw_payload(size, size),
                                        make_raw_payload(size, size + 1)};
  const std::string label = size_label(size);
  const Error cancelled{ErrorCode::cancelled, "cancelled"};
  std::vector<json> this_run;  // large documents: freed when this size is done
  std::vector<json>& docs = keeps_documents(size) ? documents_[size] : this_run;
  if (!co_await build_documents(ctx, size, docs)) co_return cancelled;

  for (Format format : {Format::raw, Format::json, Format::msgpack}) {
    const std::string name = name_of(format);
    const std::string baseline_name = "baseline";
    Pass pass;
    for (size_t done = 0; done < ops;) {
      const size_t n = std::min(batch, ops - done);
      std::vector<std::string> keys;
      for (size_t i = 0; i < n; ++i) keys.push_back(ctx.key_prefix + "v" + std::to_string(i));

      // Encode on the codec thread (each encode timed), keeping a copy of the bytes for the
      // baseline batch.
      std::vector<std::string> values;
      double encode_seconds = 0;
      if (format == Format::raw) {
        for (size_t i = 0; i < n; ++i) values.push_back(raw[(done + i) % raw.size()]);
      } else {
        std::function<EncodedBatch()> encode_batch = [&] {
          EncodedBatch out;
          for (size_t i = 0; i < n; ++i) {
            auto start = steady_clock::now();
            std::string bytes = encode(format, docs[(done + i) % docs.size()]);
            out.seconds += since(start);
            out.values.push_back(std::move(bytes));
          }
          return out;
        };
        auto encoded = co_await on_codec_thread(codec_thread_, encode_batch);
        if (!encoded) co_return encoded.error();
        values = std::move(encoded.value().values);
        encode_seconds = encoded.value().seconds;
      }
      std::vector<std::string> expected_bytes = values;
      for (const auto& v : values) pass.encoded_bytes += static_cast<double>(v.size());

      auto trip = co_await set_then_get(ctx, between_, name, keys, values);
      if (!trip) co_return trip.error();

      // Decode on the codec thread (each decode timed) and compare with the original (the
      // probe's own verification, not the codec's work: not timed).
      CheckedBatch checked;
      if (format == Format::raw) {
        for (size_t i = 0; i < n; ++i) {
          const auto& got = trip.value().got[i];
          checked.decode_seconds.push_back(0);  // raw bytes need no decoding
          if (!got) {
            checked.damage.emplace_back("the value was gone");
          } else if (*got != expected_bytes[i]) {
            checked.damage.emplace_back("the bytes differ");
          } else {
            checked.damage.emplace_back();
          }
        }
      } else {
        std::function<CheckedBatch()> check_batch = [&] {
          CheckedBatch out;
          for (size_t i = 0; i < n; ++i) {
            const auto& got = trip.value().got[i];
            if (!got) {
              out.decode_seconds.push_back(0);
              out.damage.emplace_back("the value was gone");
              continue;
            }
            auto start = steady_clock::now();
            json decoded = decode(format, *got);
            out.decode_seconds.push_back(since(start));
            if (decoded.is_discarded()) {
              out.damage.emplace_back("the value does not decode as " + name);
            } else if (decoded != docs[(done + i) % docs.size()]) {
              out.damage.emplace_back("the decoded document differs from the original");
            } else {
              out.damage.emplace_back();
            }
          }
          return out;
        };
        auto decoded = co_await on_codec_thread(codec_thread_, check_batch);
        if (!decoded) co_return decoded.error();
        checked = std::move(decoded.value());
      }

      // An operation is done when its value is decoded: after the batch's encodes, both round
      // trips and the decodes before it.
      double elapsed = encode_seconds + trip.value().seconds;
      double codec_seconds = encode_seconds;
      for (size_t i = 0; i < n; ++i) {
        elapsed += checked.decode_seconds[i];
        codec_seconds += checked.decode_seconds[i];
        pass.latencies.push_back(elapsed);
        if (checked.damage[i]) {
          pass.damaged(keys[i], *checked.damage[i]);
        } else {
          ++pass.intact;
        }
      }
      pass.busy_seconds += elapsed;
      pass.ops += static_cast<int64_t>(n);

      if (format != Format::raw) {
        // The same bytes as opaque values: what moving them costs without the codec.
        auto base = co_await set_then_get(ctx, between_, baseline_name, keys, expected_bytes);
        if (!base) co_return base.error();
        pass.baseline_seconds.push_back(base.value().seconds);
        pass.codec_seconds.push_back(codec_seconds);
      }
      done += n;
      if (!co_await yield_to_loop(ctx)) co_return cancelled;
    }

    const std::string subject = name + "/" + label;
    const double ops_done = static_cast<double>(pass.ops);
    if (format != Format::raw) {
      // Medians over batches: on a shared machine one batch's round trip can take ten times the
      // usual, and a sum would let such a spike in either pass decide the ratio.
      result.add("codec_overhead_ratio", median(pass.codec_seconds) / median(pass.baseline_seconds),
                 subject);
    }
    result.add("throughput_per_second", ops_done / pass.busy_seconds, subject);
    result.add("roundtrip_p99_seconds", p99(pass.latencies), subject);
    result.add("roundtrip_integrity_ratio", static_cast<double>(pass.intact) / ops_done, subject);
    result.add("encoded_bytes", std::round(pass.encoded_bytes / ops_done), subject);
    if (pass.first_damage) {
      result.notes.push_back(subject + ": " + std::to_string(pass.ops - pass.intact) + " of " +
                             std::to_string(pass.ops) +
                             " values damaged (first: " + *pass.first_damage + ")");
    }
  }
  co_return Ok{};
}

asio::awaitable<ProbeResult> SerializationProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  for (int64_t size : params_.sizes) {
    auto measured = co_await measure_size(ctx, static_cast<size_t>(size), result);
    if (!measured) {
      result.errors.push_back(measured.error().code == ErrorCode::cancelled
                                  ? std::string("serialization probe cancelled")
                                  : size_label(static_cast<size_t>(size)) +
                                        " payloads: " + measured.error().describe());
      break;
    }
  }
  if (!std::all_of(params_.sizes.begin(), params_.sizes.end(),
                   [](int64_t size) { return keeps_documents(static_cast<size_t>(size)); })) {
    // The large documents and their encodings were freed, but glibc keeps freed heap (mostly in
    // the codec thread's arena) mapped: hand it back so that the daemon's RSS does not stay at
    // the run's peak. On the codec thread: it takes a few milliseconds.
    std::function<bool()> trim = [] { return malloc_trim(0) != 0; };
    auto trimmed = co_await on_codec_thread(codec_thread_, trim);
    (void)trimmed;  // nothing to do when it fails
  }
  // The values can be large: free them now rather than at their TTL.
  Command unlink{"UNLINK"};
  for (int i = 0; i < params_.pipeline; ++i) {
    unlink.push_back(ctx.key_prefix + "v" + std::to_string(i));
  }
  auto unlinked = co_await ctx.redis.command(std::move(unlink));
  if (!unlinked && result.errors.empty()) {
    result.errors.push_back("deleting its values: " + unlinked.error().describe());
  }
  co_return result;
}

asio::awaitable<Status> SerializationProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType serialization_probe_type() {
  return {
      .type = "serialization",
      .summary = "JSON and MessagePack round trips of realistic documents against raw bytes",
      .measurements = {"codec_overhead_ratio", "throughput_per_second", "roundtrip_p99_seconds",
                       "roundtrip_integrity_ratio", "encoded_bytes"},
      .default_slas =
          {
              {"codec_overhead_ratio", "< 0.1", 0.99, "codec adds under 10% to a raw round trip"},
              // Speed targets are for typical cache values: 10K round trips per second of a
              // 1 MiB document would be 10 GiB/s. Other sizes are measured and shown unjudged.
              {"throughput_per_second", "> 10000", 0.99,
               "over 10K round trips per second (1 KiB documents)", "*/1KiB"},
              {"roundtrip_p99_seconds", "< 0.005", 0.99, "round trip p99 under 5 ms (1 KiB)",
               "*/1KiB"},
              {"roundtrip_integrity_ratio", ">= 1", 0.99, "every value survives the round trip"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        ParamReader params(config.params, key_path, config.where.file);
        SerializationParams p;
        p.sizes = params.get_int_list("sizes", p.sizes, 512, 16 << 20, 8);
        p.ops = static_cast<int>(params.get_int("ops", p.ops, 1, 100000));
        p.max_bytes = params.get_int("max_bytes", p.max_bytes, 1024, int64_t{256} << 20);
        p.pipeline = static_cast<int>(params.get_int("pipeline", p.pipeline, 1, 1000));
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        std::vector<int64_t> sorted = p.sizes;
        std::sort(sorted.begin(), sorted.end());
        if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
          fail("sizes", "each size may appear once (they name the measurements' subjects)");
        }
        // Raw, json, msgpack and the two baselines each move this many payload bytes twice.
        int64_t bytes = 0;
        for (int64_t size : p.sizes) {
          bytes += std::min<int64_t>(p.ops, std::max<int64_t>(1, p.max_bytes / size)) * size;
        }
        if (bytes > kMaxPayloadBytesPerFormat) {
          fail("max_bytes", "a run would write " + std::to_string(bytes) +
                                " payload bytes per format (over all sizes), more than " +
                                std::to_string(kMaxPayloadBytesPerFormat) +
                                ": lower max_bytes, ops or sizes");
        }
        return std::make_unique<SerializationProbe>(p);
      },
  };
}

}  // namespace chaosd
