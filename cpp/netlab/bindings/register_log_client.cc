// netlab.LogClient's engine and LogServer's forwarder: both ship logs on a thread of their
// own; every call that waits (a full queue, flush, close, drain) releases the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "netlab/apps/logs/forwarder.h"
#include "netlab/bindings/errors.h"
#include "netlab/bindings/options_py.h"
#include "netlab/bindings/records.h"
#include "netlab/client/log_client.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

const Columns<LogSender::Stats>& senderColumns() {
  using S = LogSender::Stats;
  static const Columns<S> columns = {
      {"sent", "int", "logs written to an upstream (resends included)",
       [](const S& s) { return py::cast(s.sent); }},
      {"confirmed", "int", "logs an upstream answered (or, syslog, settled)",
       [](const S& s) { return py::cast(s.confirmed); }},
      {"resent", "int", "logs sent again after a connection broke: possible duplicates",
       [](const S& s) { return py::cast(s.resent); }},
      {"rejected", "int", "logs an upstream answered with an ERROR (not sent again)",
       [](const S& s) { return py::cast(s.rejected); }},
      {"connects", "int", "connections made", [](const S& s) { return py::cast(s.connects); }},
      {"connect_failures", "int", "connection attempts refused or timed out",
       [](const S& s) { return py::cast(s.connectFailures); }},
      {"disconnects", "int", "connections that broke or went silent",
       [](const S& s) { return py::cast(s.disconnects); }},
      {"failovers", "int", "connections made to another upstream than the last one",
       [](const S& s) { return py::cast(s.failovers); }},
      {"position", "int", "every log up to this key (sequence number or id) is delivered",
       [](const S& s) { return py::cast(s.position); }},
      {"active", "int", "the upstream connected now (its index), or -1",
       [](const S& s) { return py::cast(s.active); }},
      {"last_error", "str", "what went wrong last",
       [](const S& s) { return py::cast(s.lastError); }},
  };
  return columns;
}

int levelOf(const py::object& level) {
  if (py::isinstance<py::int_>(level)) {
    int v = level.cast<int>();
    if (v < 0 || v > 7) raise(Error{EINVAL, "a level number is 0 (emergency) to 7 (debug)"});
    return v;
  }
  std::string name = py::str(level).cast<std::string>();
  auto parsed = logs::parseLevel(name);
  if (!parsed) raise(Error{EINVAL, "unknown level '" + name + "'"});
  return *parsed;
}

}  // namespace

void registerLogClient(py::module_& m) {
  recordRegistry()["LogSenderStats"] = describeRecord(
      senderColumns(), "What a LogClient or a LogServer forwarder has shipped, and to where.");
  m.def(
      "log_client_options", [] { return describeOptions(describe<LogClientOptions>()); },
      "Every LogClient option: name, type, default, range, unit and help.");
  m.def(
      "log_forward_options", [] { return describeOptions(describe<LogForwardOptions>()); },
      "Every LogServer forwarding option: name, type, default, range, unit and help.");

  py::class_<LogClient>(m, "LogClient")
      .def(py::init([](const py::kwargs& kwargs) {
        LogClientOptions options;
        applyKwargs(options, kwargs, "LogClient");
        auto client = LogClient::make(options);
        if (!client.ok()) raise(client.error());
        return std::move(client.value());
      }))
      .def(
          "send",
          [](LogClient& c, const std::string& message, const py::object& level, double timestamp,
             const std::string& host, const std::string& app, double wait) {
            int lv = levelOf(level);
            Result<int64_t> seq = [&] {
              py::gil_scoped_release release;
              int64_t ms = timestamp < 0 ? -1 : static_cast<int64_t>(timestamp * 1000);
              return c.send(lv, message, ms, host, app, wait);
            }();
            if (!seq.ok()) raise(seq.error());
            return seq.value();
          },
          py::arg("message"), py::arg("level") = "INFO", py::arg("timestamp") = -1.0,
          py::arg("host") = "", py::arg("app") = "", py::arg("wait") = 10.0)
      .def("flush", &LogClient::flush, py::arg("timeout"), py::call_guard<py::gil_scoped_release>())
      .def("close", &LogClient::close, py::arg("timeout"), py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("client_id", &LogClient::clientId)
      .def("stats", [](const LogClient& c) {
        LogClient::Stats s = c.stats();
        py::dict d = toDict(senderColumns(), s.sender);
        d["queued"] = s.queued;
        d["last_seq"] = s.lastSeq;
        return d;
      });

  py::class_<LogForwarder>(m, "LogForwarder")
      .def(py::init([](const py::kwargs& kwargs) {
        LogForwardOptions options;
        applyKwargs(options, kwargs, "LogForwarder");
        Result<std::unique_ptr<LogForwarder>> f = [&] {
          py::gil_scoped_release release;
          return LogForwarder::start(options);
        }();
        if (!f.ok()) raise(f.error());
        return std::move(f.value());
      }))
      .def("stop", &LogForwarder::stop, py::call_guard<py::gil_scoped_release>())
      .def("drain", &LogForwarder::drain, py::arg("timeout"),
           py::call_guard<py::gil_scoped_release>())
      .def("stats", [](const LogForwarder& f) { return toDict(senderColumns(), f.stats()); });
}

}  // namespace netlab::py_bindings
