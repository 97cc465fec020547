#include "daemon/redis/asio_adapter.h"

#include <hiredis/async.h>

#include <boost/asio/post.hpp>

namespace chaosd {
namespace asio = boost::asio;

namespace {
// ev.data holds a heap shared_ptr so the adapter stays alive for as long as hiredis can call it.
using Handle = std::shared_ptr<HiredisAsioAdapter>;
HiredisAsioAdapter& self_of(void* data) { return **static_cast<Handle*>(data); }
}  // namespace

void HiredisAsioAdapter::attach(const asio::any_io_executor& executor, redisAsyncContext* context) {
  auto* handle = new Handle(std::make_shared<HiredisAsioAdapter>(executor, context));
  context->ev.data = handle;
  context->ev.addRead = &HiredisAsioAdapter::on_add_read;
  context->ev.delRead = &HiredisAsioAdapter::on_del_read;
  context->ev.addWrite = &HiredisAsioAdapter::on_add_write;
  context->ev.delWrite = &HiredisAsioAdapter::on_del_write;
  context->ev.cleanup = &HiredisAsioAdapter::on_cleanup;
}

HiredisAsioAdapter::HiredisAsioAdapter(const asio::any_io_executor& executor,
                                       redisAsyncContext* context)
    : context_(context), socket_(executor, context->c.fd) {}

HiredisAsioAdapter& HiredisAsioAdapter::of(const redisAsyncContext* context) {
  return self_of(context->ev.data);
}

void HiredisAsioAdapter::on_add_read(void* data) {
  auto& self = self_of(data);
  self.want_read_ = true;
  self.arm_read();
}

void HiredisAsioAdapter::on_del_read(void* data) { self_of(data).want_read_ = false; }

void HiredisAsioAdapter::on_add_write(void* data) {
  auto& self = self_of(data);
  self.want_write_ = true;
  self.arm_write();
}

void HiredisAsioAdapter::on_del_write(void* data) { self_of(data).want_write_ = false; }

void HiredisAsioAdapter::on_cleanup(void* data) {
  auto* handle = static_cast<Handle*>(data);
  (*handle)->cleanup();
  delete handle;  // pending waits still hold their own reference
}

void HiredisAsioAdapter::arm_read() {
  if (read_armed_ || context_ == nullptr) return;
  read_armed_ = true;
  socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->read_armed_ = false;
                       if (ec || self->context_ == nullptr) return;
                       // May free the context (connection error): cleanup() nulls context_.
                       if (self->read_handler_) {
                         self->read_handler_();
                       } else {
                         redisAsyncHandleRead(self->context_);
                       }
                       if (self->context_ != nullptr && self->want_read_) self->arm_read();
                     });
}

// A connected socket nearly always has room: write without waiting for readiness. Waiting costs an
// epoll_ctl and a trip through epoll_wait per command (asio re-registers the descriptor for every
// async_wait), and posting the write lets every command a loop turn queues go out in one write().
// Only a write that finds the socket full (hiredis asks again from inside it) waits for room.
void HiredisAsioAdapter::arm_write() {
  if (write_armed_ || writing_ || writes_held_ || context_ == nullptr) return;
  write_armed_ = true;
  if ((context_->c.flags & REDIS_CONNECTED) == 0) {
    wait_writable();  // a connect in progress completes when the socket becomes writable
    return;
  }
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->write_armed_ = false;
    self->write_now();
  });
}

void HiredisAsioAdapter::release_writes() {
  writes_held_ = false;
  if (write_armed_ || writing_ || context_ == nullptr) return;
  if ((context_->c.flags & REDIS_CONNECTED) == 0) {
    if (want_write_) wait_writable();
    return;
  }
  write_now();
}

void HiredisAsioAdapter::wait_writable() {
  write_armed_ = true;
  socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->write_armed_ = false;
                       if (!ec) self->write_now();
                     });
}

void HiredisAsioAdapter::write_now() {
  if (context_ == nullptr || !want_write_) return;
  writing_ = true;
  redisAsyncHandleWrite(context_);  // may free the context (connection error): context_ nulled
  writing_ = false;
  if (context_ != nullptr && want_write_) wait_writable();  // the socket is full: wait for room
}

void HiredisAsioAdapter::cleanup() {
  context_ = nullptr;
  want_read_ = want_write_ = false;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
  socket_.release();  // hiredis closes the fd itself
}

}  // namespace chaosd
