// ducq.hpp: the C API for C++ (as the original's ducq.hpp: ducq.h and
// ducq_tcp.h, whose declarations carry their own extern "C"), plus a small
// header-only C++11 wrapper.
//
// ducq::Connection owns one ducq_i (freed by its destructor, movable, not
// copyable) and takes std::string arguments. Nothing throws: every call
// returns the ducq_state of the C call, so it also builds with
// -fno-exceptions for devices. Use get() for any C function not wrapped.
#ifndef DUCQ_HPP
#define DUCQ_HPP

#include <string>
#include <vector>

#include "ducq.h"
#include "ducq_tcp.h"

namespace ducq {

/// The text of a state, e.g. "message invalid".
inline const char *state_str(ducq_state state) {
    return ducq_state_tostr(static_cast<int>(state));
}

/// A client connection to a ducq server.
class Connection {
  public:
    /// An unconnected TCP client for host and port; see valid().
    Connection(const std::string &host, const std::string &port)
        : handle_(ducq_new_tcp(host.c_str(), port.c_str())) {}

    /// Takes ownership of a handle from the C API (NULL allowed).
    explicit Connection(ducq_i *handle) : handle_(handle) {}

    /// An unconnected WebSocket client for a server's HTTP port; see valid().
    static Connection websocket(const std::string &host, const std::string &port) {
        return Connection(ducq_new_ws_client(host.c_str(), port.c_str()));
    }

    ~Connection() { ducq_free(handle_); }

    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    Connection(Connection &&other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }

    Connection &operator=(Connection &&other) noexcept {
        if (this != &other) {
            ducq_free(handle_);
            handle_ = other.handle_;
            other.handle_ = nullptr;
        }
        return *this;
    }

    /// Whether a handle was made.
    bool valid() const { return handle_ != nullptr; }

    /// Connects (or reconnects).
    ducq_state connect() { return ducq_conn(handle_); }

    /// Closes; connect() opens again.
    ducq_state close() { return ducq_close(handle_); }

    /// Receive and connect timeout in seconds (0: none).
    ducq_state timeout(int seconds) { return ducq_timeout(handle_, seconds); }

    /// Publishes and waits for the ACK (DUCQ_NACK when refused; last_error()
    /// has the reason).
    ducq_state publish(const std::string &route, const std::string &payload) {
        return ducq_pub(handle_, route.c_str(), payload.data(), payload.size());
    }

    /// Subscribes ("last", "add" options) and waits for the answer.
    ducq_state subscribe(const std::string &route, const std::string &options = "") {
        return ducq_sub(handle_, route.c_str(), options.c_str());
    }

    /// Receives the next message into out, whatever its size; returns
    /// DUCQ_OK for data, DUCQ_PROTOCOL or DUCQ_NACK otherwise (as
    /// ducq_classify), or the receive's error (DUCQ_ETIMEOUT, ...).
    ducq_state receive(std::string &out) {
        std::vector<char> buf(256);
        for (;;) {
            size_t size = buf.size();
            ducq_state state = ducq_recv(handle_, buf.data(), &size);
            if (state == DUCQ_EMSGSIZE) {
                buf.resize(size);
                continue;
            }
            if (state != DUCQ_OK)
                return state;
            out.assign(buf.data(), size);
            return ducq_classify(buf.data(), size);
        }
    }

    /// This end's id, e.g. "TCP:127.0.0.1:50312".
    std::string id() const {
        const char *id = ducq_id(handle_);
        return id ? id : "";
    }

    /// Detail of the last failure.
    std::string last_error() const {
        const char *e = ducq_last_error(handle_);
        return e ? e : "";
    }

    /// The C handle, still owned by this object.
    ducq_i *get() const { return handle_; }

    /// Gives up ownership of the C handle.
    ducq_i *release() {
        ducq_i *h = handle_;
        handle_ = nullptr;
        return h;
    }

  private:
    ducq_i *handle_;
};

} // namespace ducq

#endif // DUCQ_HPP
