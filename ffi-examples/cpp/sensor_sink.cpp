// A device-style sink in C++: owns one connection, publishes JSON readings
// on a route, reconnects once when a publish fails, and reports errors
// with ducq_state_tostr.
//
// usage: sensor_sink HOST PORT ROUTE COUNT
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ducq.hpp"

class SensorSink {
  public:
    SensorSink(const std::string &host, const std::string &port, const std::string &route)
        : conn_(host, port), route_(route), seq_(0) {
        conn_.timeout(5);
    }

    bool start() { return check(conn_.connect(), "connect"); }

    // Publishes one reading; tries once more on a fresh connection.
    bool push(const char *sensor, double value) {
        char json[128];
        std::snprintf(json, sizeof json, "{\"sensor\":\"%s\",\"seq\":%u,\"value\":%.2f}", sensor,
                      seq_, value);
        ducq_state state = conn_.publish(route_, json);
        if (state != DUCQ_OK && conn_.connect() == DUCQ_OK)
            state = conn_.publish(route_, json);
        if (!check(state, "publish"))
            return false;
        ++seq_;
        return true;
    }

    unsigned sent() const { return seq_; }

  private:
    bool check(ducq_state state, const char *what) {
        if (state == DUCQ_OK)
            return true;
        std::fprintf(stderr, "sensor_sink: %s: %s (%s)\n", what, ducq::state_str(state),
                     conn_.last_error().c_str());
        return false;
    }

    ducq::Connection conn_;
    std::string route_;
    unsigned seq_;
};

int main(int argc, char **argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: sensor_sink HOST PORT ROUTE COUNT\n");
        return 2;
    }
    SensorSink sink(argv[1], argv[2], argv[3]);
    if (!sink.start())
        return 1;
    int count = std::atoi(argv[4]);
    for (int i = 0; i < count; ++i)
        if (!sink.push("t1", 20.5 + i))
            return 1;
    std::printf("sent %u\n", sink.sent());
    return 0;
}
