#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "netlab/apps/chat.h"
#include "netlab/apps/echo.h"
#include "netlab/apps/pingpong.h"
#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
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
  return d;
}

std::unique_ptr<Server> newServer(std::shared_ptr<Protocol> protocol, const std::string& host,
                                  int port, const std::string& model, int workers,
                                  size_t highWater, double idleTimeout, size_t maxConnections,
                                  int backlog, bool logEvents) {
  if (port < 0 || port > 65535) raise(Error{EINVAL, "port must be in 0..65535"});
  ServerOptions o;
  o.host = host;
  o.port = static_cast<uint16_t>(port);
  o.model = model;
  o.workers = workers;
  o.highWater = highWater;
  o.idleTimeoutSec = idleTimeout;
  o.maxConnections = maxConnections;
  o.backlog = backlog;
  o.logEvents = logEvents;
  auto server = makeServer(std::move(protocol), o);
  if (!server.ok()) raise(server.error());
  return std::move(server.value());
}

}  // namespace

void registerServers(py::module_& m) {
  m.def("models", &modelNames, "Names of the I/O models, default first.");

  py::class_<Protocol, std::shared_ptr<Protocol>>(m, "Protocol")
      .def_property_readonly("name", [](const Protocol& p) { return std::string(p.name()); });
  py::class_<EchoProtocol, Protocol, std::shared_ptr<EchoProtocol>>(m, "EchoProtocol")
      .def(py::init([](const CodecHandle* codec, std::optional<double> stallAt, double stallFor) {
             std::shared_ptr<StallOnce> stall;
             if (stallAt) {
               if (*stallAt < 0 || stallFor < 0) raise(Error{EINVAL, "stall times must not be negative"});
               stall = std::make_shared<StallOnce>(*stallAt, stallFor);
             }
             return std::make_shared<EchoProtocol>(codec ? codec->codec : nullptr, stall);
           }),
           py::arg("codec") = nullptr, py::arg("stall_at") = std::nullopt,
           py::arg("stall_for") = 0.0);
  py::class_<PingPongProtocol, Protocol, std::shared_ptr<PingPongProtocol>>(m, "PingPongProtocol")
      .def(py::init([](size_t maxLine) {
             if (maxLine == 0) raise(Error{EINVAL, "max_line must be at least 1"});
             return std::make_shared<PingPongProtocol>(maxLine);
           }),
           py::arg("max_line") = PingPongProtocol::kDefaultMaxLine)
      .def_property_readonly("max_line", &PingPongProtocol::maxLine);

  py::class_<ChatProtocol, Protocol, std::shared_ptr<ChatProtocol>>(m, "ChatProtocol")
      .def(py::init([](size_t maxLine, size_t maxQueue, const CodecHandle* codec) {
             if (maxLine == 0) raise(Error{EINVAL, "max_line must be at least 1"});
             if (maxQueue < 1024) raise(Error{EINVAL, "max_queue must be at least 1024 bytes"});
             ChatOptions o;
             o.maxLine = maxLine;
             o.maxQueue = maxQueue;
             if (codec) {
               if (codec->codec->name() != "header") {
                 raise(Error{EINVAL, "chat's binary mode takes a HeaderCodec"});
               }
               o.codec = codec->codec;
             }
             return std::make_shared<ChatProtocol>(std::move(o));
           }),
           py::arg("max_line") = 4096, py::arg("max_queue") = 1 << 20, py::arg("codec") = nullptr)
      .def("snapshot", [](const ChatProtocol& p) {
        ChatSnapshot s = p.snapshot();
        py::dict d;
        d["rooms"] = s.rooms;
        d["members"] = s.members;
        d["messages_relayed"] = s.relayed;
        return d;
      });

  py::class_<Server>(m, "Server")
      .def(py::init(&newServer), py::arg("protocol"), py::arg("host"), py::arg("port"),
           py::arg("model"), py::arg("workers"), py::arg("high_water"), py::arg("idle_timeout"),
           py::arg("max_connections"), py::arg("backlog"), py::arg("log_events"))
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
