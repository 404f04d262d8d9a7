#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "netlab/apps/chat.h"
#include "netlab/apps/echo.h"
#include "netlab/apps/pingpong.h"
#include "netlab/apps/relay.h"
#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
#include "netlab/core/range_check.h"
#include "netlab/models/server.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

py::dict statsDict(Server& s) {
  StatsSnapshot st = s.stats();
  py::dict d;
  d["model"] = s.options().model;
  d["protocol"] = std::string(s.protocolName());
  d["workers"] = s.options().workers;
  d["threads"] = s.threads();
  d["connections_active"] = st.connectionsActive;
  d["connections_total"] = st.connectionsTotal;
  d["connections_rejected"] = st.connectionsRejected;
  d["bytes_in"] = st.bytesIn;
  d["bytes_out"] = st.bytesOut;
  d["messages_in"] = st.messagesIn;
  d["messages_out"] = st.messagesOut;
  d["errors"] = st.errors;
  d["dropped_slow"] = st.droppedSlow;
  d["timeouts"] = st.timeouts;
  py::dict closes;
  for (size_t i = 0; i < kCloseKinds; ++i)
    closes[closeKindName(static_cast<CloseKind>(i))] = st.closes[i];
  d["closes"] = closes;
  return d;
}

std::unique_ptr<Server> newServer(std::shared_ptr<Protocol> protocol, const std::string& host,
                                  int64_t port, const std::string& model, int64_t workers,
                                  int64_t highWater, double idleTimeout, double messageTimeout,
                                  int64_t maxConnections, int64_t maxConnectionsPerIp,
                                  int64_t maxInputMemory, int64_t backlog, bool logEvents) {
  ServerOptions o;
  o.host = host;
  o.port = port;
  o.model = model;
  o.workers = workers;
  o.highWater = highWater;
  o.idleTimeoutSec = idleTimeout;
  o.messageTimeoutSec = messageTimeout;
  o.maxConnections = maxConnections;
  o.maxConnectionsPerIp = maxConnectionsPerIp;
  o.maxInputMemory = maxInputMemory;
  o.backlog = backlog;
  o.logEvents = logEvents;
  auto server = makeServer(std::move(protocol), o);
  if (!server.ok()) raise(server.error());
  return std::move(server.value());
}

constexpr int64_t kMaxLineLimit = 16 << 20;

void requireRange(const char* name, int64_t value, int64_t lo, int64_t hi, const char* unit) {
  check(checkRange(name, static_cast<double>(value), static_cast<double>(lo),
                   static_cast<double>(hi), unit));
}

// The defaults, written once here, for the Python classes and the CLI.
py::dict serverDefaults() {
  ServerOptions o;
  py::dict d;
  d["workers"] = o.workers;
  d["high_water"] = o.highWater;
  d["idle_timeout"] = o.idleTimeoutSec;
  d["message_timeout"] = o.messageTimeoutSec;
  d["max_connections"] = o.maxConnections;
  d["max_connections_per_ip"] = o.maxConnectionsPerIp;
  d["max_input_memory"] = o.maxInputMemory;
  d["backlog"] = o.backlog;
  d["select_max_connections"] = kSelectMaxConnections;
  return d;
}

}  // namespace

void registerServers(py::module_& m) {
  m.def("models", &modelNames, "Names of the I/O models, default first.");
  m.def("server_defaults", &serverDefaults, "Every server option's default.");
  m.def(
      "close_kinds",
      [] {
        std::vector<std::string> names;
        for (size_t i = 0; i < kCloseKinds; ++i)
          names.emplace_back(closeKindName(static_cast<CloseKind>(i)));
        return names;
      },
      "Why connections close, as the kinds stats()['closes'] counts.");

  py::class_<Protocol, std::shared_ptr<Protocol>>(m, "Protocol")
      .def_property_readonly("name", [](const Protocol& p) { return std::string(p.name()); });
  py::class_<EchoProtocol, Protocol, std::shared_ptr<EchoProtocol>>(m, "EchoProtocol")
      .def(py::init([](const CodecHandle* codec, std::optional<double> stallAt, double stallFor) {
             std::shared_ptr<StallOnce> stall;
             if (stallAt) {
               if (*stallAt < 0 || stallFor < 0)
                 raise(Error{EINVAL, "stall times must not be negative"});
               stall = std::make_shared<StallOnce>(*stallAt, stallFor);
             }
             return std::make_shared<EchoProtocol>(codec ? codec->codec : nullptr, stall);
           }),
           py::arg("codec") = nullptr, py::arg("stall_at") = std::nullopt,
           py::arg("stall_for") = 0.0);
  py::class_<PingPongProtocol, Protocol, std::shared_ptr<PingPongProtocol>>(m, "PingPongProtocol")
      .def(py::init([](int64_t maxLine) {
             requireRange("max_line", maxLine, 1, kMaxLineLimit, "bytes");
             return std::make_shared<PingPongProtocol>(static_cast<size_t>(maxLine));
           }),
           py::arg("max_line") = PingPongProtocol::kDefaultMaxLine)
      .def_property_readonly("max_line", &PingPongProtocol::maxLine);

  py::class_<ChatProtocol, Protocol, std::shared_ptr<ChatProtocol>>(m, "ChatProtocol")
      .def(py::init([](int64_t maxLine, int64_t maxQueue, const CodecHandle* codec,
                       int64_t announceLimit) {
             requireRange("max_line", maxLine, 1, kMaxLineLimit, "bytes");
             requireRange("max_queue", maxQueue, 1024, int64_t{1} << 30, "bytes");
             requireRange("announce_limit", announceLimit, 0, 10'000'000, "members");
             ChatOptions o;
             o.maxLine = static_cast<size_t>(maxLine);
             o.maxQueue = static_cast<size_t>(maxQueue);
             o.announceLimit = static_cast<size_t>(announceLimit);
             if (codec) {
               if (codec->codec->name() != "header") {
                 raise(Error{EINVAL, "chat's binary mode takes a HeaderCodec"});
               }
               o.codec = codec->codec;
             }
             return std::make_shared<ChatProtocol>(std::move(o));
           }),
           py::arg("max_line") = ChatOptions{}.maxLine,
           py::arg("max_queue") = ChatOptions{}.maxQueue, py::arg("codec") = nullptr,
           py::arg("announce_limit") = ChatOptions{}.announceLimit)
      .def("snapshot", [](const ChatProtocol& p) {
        ChatSnapshot s = p.snapshot();
        py::dict d;
        d["rooms"] = s.rooms;
        d["members"] = s.members;
        d["messages_relayed"] = s.relayed;
        return d;
      });

  py::class_<RelayProtocol, Protocol, std::shared_ptr<RelayProtocol>>(m, "RelayProtocol")
      .def(py::init([](const std::string& host, int64_t port, double connectTimeout) {
             if (host.empty()) raise(Error{EINVAL, "target host must not be empty"});
             requireRange("target port", port, 1, 65535, "");
             check(checkRange("connect_timeout", connectTimeout, 0.001, 3600, "seconds"));
             RelayOptions o;
             o.targetHost = host;
             o.targetPort = static_cast<uint16_t>(port);
             o.connectTimeoutSec = connectTimeout;
             return std::make_shared<RelayProtocol>(std::move(o));
           }),
           py::arg("target_host"), py::arg("target_port"), py::arg("connect_timeout") = 5.0);

  py::class_<Server>(m, "Server")
      .def(py::init(&newServer), py::arg("protocol"), py::arg("host"), py::arg("port"),
           py::arg("model"), py::arg("workers"), py::arg("high_water"), py::arg("idle_timeout"),
           py::arg("message_timeout"), py::arg("max_connections"),
           py::arg("max_connections_per_ip"), py::arg("max_input_memory"), py::arg("backlog"),
           py::arg("log_events"))
      .def("start",
           [](Server& s) {
             Status status;
             {
               py::gil_scoped_release release;
               status = s.start();
             }
             check(status);
           })
      .def("stop", &Server::stop, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("port", &Server::port)
      .def_property_readonly("running", &Server::running)
      .def("stats", &statsDict)
      .def("drain_events", &Server::drainEvents);
}

}  // namespace netlab::py_bindings
