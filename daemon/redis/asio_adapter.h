#pragma once
// Drives a hiredis async context from a Boost.Asio executor: hiredis says when it wants to read or
// write (ev.addRead/addWrite hooks); we wait for readability on its fd with a non-owning
// posix::stream_descriptor and call redisAsyncHandleRead (or the owner's read handler), and write
// on the next loop turn, or at once when the owner releases held writes (waiting for writability
// only while connecting or when the socket is full). hiredis owns (and closes) the fd, so cleanup
// releases it from Asio without closing.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>

struct redisAsyncContext;

namespace chaosd {

class HiredisAsioAdapter : public std::enable_shared_from_this<HiredisAsioAdapter> {
 public:
  /// Installs the hooks on `context`. The adapter lives until hiredis calls ev.cleanup (on
  /// redisAsyncFree or a connection error) and no readiness wait is pending any more.
  static void attach(const boost::asio::any_io_executor& executor, redisAsyncContext* context);

  /// The adapter attached to `context` (valid until hiredis cleans up).
  static HiredisAsioAdapter& of(const redisAsyncContext* context);

  HiredisAsioAdapter(const boost::asio::any_io_executor& executor, redisAsyncContext* context);

  /// Called instead of redisAsyncHandleRead when the socket is readable (and the context alive).
  /// It must call redisAsyncHandleRead itself. Kept after cleanup (never called then): it may be
  /// running when hiredis cleans up.
  void set_read_handler(std::function<void()> handler) { read_handler_ = std::move(handler); }

  /// While held, commands queue in hiredis' buffer without a write being scheduled;
  /// release_writes() then writes them all at once, in this call (not inside a hiredis callback).
  void hold_writes() { writes_held_ = true; }
  void release_writes();

 private:
  static void on_add_read(void* data);
  static void on_del_read(void* data);
  static void on_add_write(void* data);
  static void on_del_write(void* data);
  static void on_cleanup(void* data);

  void arm_read();
  void arm_write();
  void wait_writable();
  void write_now();
  void cleanup();

  redisAsyncContext* context_;  // null once hiredis cleaned up
  boost::asio::posix::stream_descriptor socket_;
  std::function<void()> read_handler_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;  // a write is posted or waits for room
  bool writing_ = false;      // inside redisAsyncHandleWrite
  bool writes_held_ = false;
};

}  // namespace chaosd
