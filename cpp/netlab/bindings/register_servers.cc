#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <type_traits>
#include <variant>

#include "netlab/apps/chat.h"
#include "netlab/apps/echo.h"
#include "netlab/apps/pingpong.h"
#include "netlab/apps/registry.h"
#include "netlab/apps/relay.h"
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
  d["timeouts"] = st.timeouts;
  py::dict closes;
  for (size_t i = 0; i < kCloseKinds; ++i)
    closes[closeKindName(static_cast<CloseKind>(i))] = st.closes[i];
  d["closes"] = closes;
  return d;
}

const char* typeName(OptionType type) {
  switch (type) {
    case OptionType::kInt:
      return "int";
    case OptionType::kFloat:
      return "float";
    case OptionType::kBool:
      return "bool";
    case OptionType::kString:
      return "str";
  }
  return "?";
}

py::object toPython(const OptionValue& v) {
  return std::visit(
      [](const auto& x) -> py::object {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return py::none();
        } else {
          return py::cast(x);
        }
      },
      v);
}

// Python's own types only: bool before int (a bool is an int in Python).
OptionValue fromPython(const std::string& name, py::handle h) {
  if (h.is_none()) return std::monostate{};
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) return h.cast<int64_t>();
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  throw py::type_error("option " + name + " cannot be a " +
                       std::string(py::str(py::type::handle_of(h).attr("__name__"))));
}

py::list describeOptions(const std::vector<OptionInfo>& options) {
  py::list out;
  for (const OptionInfo& o : options) {
    py::dict d;
    d["name"] = o.name;
    d["type"] = typeName(o.type);
    d["default"] = toPython(o.defaultValue);
    d["min"] = o.lo;
    d["max"] = o.hi;
    d["unit"] = o.unit;
    d["help"] = o.help;
    d["none_allowed"] = o.noneAllowed;
    d["required"] = o.required;
    d["choices"] = o.choices;
    out.append(d);
  }
  return out;
}

py::list appsList() {
  py::list out;
  for (const AppSpec& app : apps()) {
    py::dict d;
    d["name"] = app.name;
    d["summary"] = app.summary;
    d["options"] = describeOptions(app.options);
    d["takes_codec"] = app.takesCodec;
    d["scenario"] = app.scenario;
    out.append(d);
  }
  return out;
}

std::unique_ptr<Server> newServer(const std::string& appName, const CodecHandle* codec,
                                  const py::kwargs& kwargs) {
  const AppSpec* app = findApp(appName);
  if (!app) {
    std::string names;
    for (const auto& a : apps()) names += (names.empty() ? "" : ", ") + a.name;
    raise(Error{EINVAL, "unknown app '" + appName + "'; valid apps: " + names});
  }
  OptionMap values;
  for (const auto& item : kwargs) {
    std::string name = py::str(item.first);
    values[name] = fromPython(name, item.second);
  }
  std::vector<std::string> unknown = unknownOptions(*app, values);
  if (!unknown.empty()) {
    throw py::type_error("the " + app->name + " server has no option '" + unknown.front() + "'");
  }
  auto server = makeAppServer(*app, values, codec ? codec->codec : nullptr);
  if (!server.ok()) raise(server.error());
  return std::move(server.value());
}

py::dict optionValues(const Server& s) {
  py::dict d;
  for (const auto& [name, value] : valuesOf(s.options())) d[name.c_str()] = toPython(value);
  for (const auto& [name, value] : s.protocol().optionValues()) d[name.c_str()] = toPython(value);
  return d;
}

}  // namespace

void registerServers(py::module_& m) {
  m.def("models", &modelNames, "Names of the I/O models, default first.");
  m.def("apps", &appsList, "Every app: its name, summary, options and load scenario.");
  m.def(
      "server_options", [] { return describeOptions(describe<ServerOptions>()); },
      "Every server option: name, type, default, range, unit and help.");
  m.attr("SELECT_MAX_CONNECTIONS") = kSelectMaxConnections;
  m.def(
      "parse_target",
      [](const std::string& target) {
        auto parsed = parseTarget(target);
        if (!parsed.ok()) raise(parsed.error());
        return py::make_tuple(parsed.value().first, parsed.value().second);
      },
      py::arg("target"), "'host:port' as (host, port); ValueError says what is wrong.");
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
  py::class_<EchoProtocol, Protocol, std::shared_ptr<EchoProtocol>>(m, "EchoProtocol");
  py::class_<PingPongProtocol, Protocol, std::shared_ptr<PingPongProtocol>>(m, "PingPongProtocol")
      .def_property_readonly("max_line", &PingPongProtocol::maxLine);
  py::class_<ChatProtocol, Protocol, std::shared_ptr<ChatProtocol>>(m, "ChatProtocol")
      .def("snapshot", [](const ChatProtocol& p) {
        ChatSnapshot s = p.snapshot();
        py::dict d;
        d["rooms"] = s.rooms;
        d["members"] = s.members;
        d["messages_relayed"] = s.relayed;
        return d;
      });
  py::class_<RelayProtocol, Protocol, std::shared_ptr<RelayProtocol>>(m, "RelayProtocol");

  py::class_<Server>(m, "Server")
      .def(py::init(&newServer), py::arg("app"), py::arg("codec") = nullptr)
      .def("option_values", &optionValues,
           "Every option, the server's and the app's, as the server runs with them.")
      .def_property_readonly("protocol", &Server::protocolPtr)
      .def(
          "start",
          [](Server& s, bool onThisThread) {
            Status status;
            {
              py::gil_scoped_release release;
              status = s.start(onThisThread);
            }
            check(status);
          },
          py::arg("on_this_thread") = false)
      .def_property_readonly("serves_here", &Server::servesHere)
      .def(
          "serve_here",
          [](Server& s, double seconds) {
            Status status;
            {
              py::gil_scoped_release release;
              status = s.serveHere(seconds);
            }
            check(status);
          },
          py::arg("seconds"))
      .def("stop", &Server::stop, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("port", &Server::port)
      .def_property_readonly("running", &Server::running)
      .def("stats", &statsDict)
      .def("drain_events", &Server::drainEvents);
}

}  // namespace netlab::py_bindings
