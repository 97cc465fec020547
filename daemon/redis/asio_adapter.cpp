#include "daemon/redis/asio_adapter.h"

#include <hiredis/async.h>

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
                       redisAsyncHandleRead(self->context_);
                       if (self->context_ != nullptr && self->want_read_) self->arm_read();
                     });
}

void HiredisAsioAdapter::arm_write() {
  if (write_armed_ || context_ == nullptr) return;
  write_armed_ = true;
  socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->write_armed_ = false;
                       if (ec || self->context_ == nullptr) return;
                       redisAsyncHandleWrite(self->context_);
                       if (self->context_ != nullptr && self->want_write_) self->arm_write();
                     });
}

void HiredisAsioAdapter::cleanup() {
  context_ = nullptr;
  want_read_ = want_write_ = false;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
  socket_.release();  // hiredis closes the fd itself
}

}  // namespace chaosd
