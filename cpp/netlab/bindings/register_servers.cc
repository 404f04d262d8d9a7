#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sys/resource.h>

#include <memory>

#include "netlab/apps/chat.h"
#include "netlab/apps/echo.h"
#include "netlab/apps/files/file_server.h"
#include "netlab/apps/http/http_server.h"
#include "netlab/apps/http_proxy/proxy.h"
#include "netlab/apps/logs/log_server.h"
#include "netlab/apps/pingpong.h"
#include "netlab/apps/registry.h"
#include "netlab/apps/relay.h"
#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
#include "netlab/bindings/options_py.h"
#include "netlab/bindings/records.h"
#include "netlab/models/server.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

struct StatsView {
  Server* server;
  StatsSnapshot counters;
  struct rusage process;  // context switches are the kernel's, per process
};

StatsView viewOf(Server& s) {
  StatsView v{&s, s.stats(), {}};
  ::getrusage(RUSAGE_SELF, &v.process);  // cannot fail with these arguments
  return v;
}

const Columns<StatsView>& statsColumns() {
  using V = StatsView;
  static const Columns<V> columns = [] {
    Columns<V> c = {
        {"model", "str", "the I/O model",
         [](const V& v) { return py::cast(v.server->options().model); }},
        {"protocol", "str", "the app's protocol",
         [](const V& v) { return py::cast(std::string(v.server->protocolName())); }},
        {"workers", "int", "event loops (epoll with workers > 1)",
         [](const V& v) { return py::cast(v.server->options().workers); }},
        {"threads", "int", "native threads serving now",
         [](const V& v) { return py::cast(v.server->threads()); }},
    };
    for (const CounterField& f : counterFields()) {
      c.push_back(
          {f.name, "int", f.help, [m = f.value](const V& v) { return py::cast(v.counters.*m); }});
    }
    c.push_back({"context_switches_voluntary", "int",
                 "times the server's process gave up the CPU to wait (getrusage, every thread "
                 "it has run, so in a process shared with other work that work counts too)",
                 [](const V& v) { return py::cast(v.process.ru_nvcsw); }});
    c.push_back({"context_switches_involuntary", "int",
                 "times the server's process was preempted (getrusage, as above)",
                 [](const V& v) { return py::cast(v.process.ru_nivcsw); }});
    c.push_back({"closes", "dict[str, int]",
                 "connections closed, by CloseKind value (refusals at admission count as "
                 "server_full)",
                 [](const V& v) {
                   py::dict closes;
                   for (size_t i = 0; i < kCloseKinds; ++i)
                     closes[closeKindName(static_cast<CloseKind>(i))] = v.counters.closes[i];
                   return py::object(closes);
                 }});
    return c;
  }();
  return columns;
}

const Columns<ChatSnapshot>& chatColumns() {
  using C = ChatSnapshot;
  static const Columns<C> columns = {
      {"rooms", "dict[str, int]", "members per room", [](const C& c) { return py::cast(c.rooms); }},
      {"members", "int", "clients in a room now", [](const C& c) { return py::cast(c.members); }},
      {"messages_relayed", "int", "messages delivered to other members",
       [](const C& c) { return py::cast(c.relayed); }},
  };
  return columns;
}

const Columns<HttpSnapshot>& httpColumns() {
  using H = HttpSnapshot;
  static const Columns<H> columns = {
      {"requests", "dict[str, int]",
       "requests by method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, other), counted as "
       "their heads arrive",
       [](const H& h) { return py::cast(h.requests); }},
      {"responses", "dict[str, int]",
       "responses by status class: 1xx (100 Continue), 2xx, 3xx, 4xx (refusals, parse "
       "errors), 5xx",
       [](const H& h) { return py::cast(h.responses); }},
  };
  return columns;
}

const Columns<HttpProxySnapshot>& proxyColumns() {
  using P = HttpProxySnapshot;
  static const Columns<P> columns = {
      {"responses", "dict[str, int]",
       "responses sent to clients by status class (the upstreams' and the proxy's own 4xx and "
       "5xx)",
       [](const P& p) { return py::cast(p.responses); }},
      {"statuses", "dict[str, int]",
       "responses sent to clients by status code (\"200\", \"502\", ...), codes seen at least "
       "once",
       [](const P& p) { return py::cast(p.statuses); }},
      {"upstream_connects", "int", "connections opened to upstreams",
       [](const P& p) { return py::cast(p.upstreamConnects); }},
      {"upstream_reuses", "int", "requests sent on an upstream connection kept alive",
       [](const P& p) { return py::cast(p.upstreamReuses); }},
      {"upstream_failures", "int",
       "requests answered 502 or 504 because their upstream failed or timed out",
       [](const P& p) { return py::cast(p.upstreamFailures); }},
      {"retries", "int",
       "requests sent again: to the next upstream after a failed connect, or once more after "
       "a connection died before any answer",
       [](const P& p) { return py::cast(p.retries); }},
      {"upstream_requests", "dict[str, int]",
       "requests sent to each upstream (\"host:port\"), retries included",
       [](const P& p) { return py::cast(p.upstreamRequests); }},
      {"pool_idle", "int", "idle upstream connections in the keep-alive pools now",
       [](const P& p) { return py::cast(p.poolIdle); }},
      {"upstreams_down", "int", "upstreams skipped now after failing (max_fails, fail_timeout)",
       [](const P& p) { return py::cast(p.upstreamsDown); }},
      {"denied", "int", "requests answered 403 by a deny rule or, for CONNECT, the allowlist",
       [](const P& p) { return py::cast(p.denied); }},
      {"rate_limited", "int", "requests answered 429 past rate_limit",
       [](const P& p) { return py::cast(p.rateLimited); }},
      {"tunnels", "int", "CONNECT tunnels opened (each answered 200 Connection Established)",
       [](const P& p) { return py::cast(p.tunnels); }},
      {"cache_hits", "int", "responses served from the cache (X-Cache: HIT), 304s included",
       [](const P& p) { return py::cast(p.cacheHits); }},
      {"cache_misses", "int", "cacheable requests the upstream answered (X-Cache: MISS)",
       [](const P& p) { return py::cast(p.cacheMisses); }},
      {"cache_revalidations", "int",
       "stale entries the upstream confirmed with 304 (X-Cache: REVALIDATED)",
       [](const P& p) { return py::cast(p.cacheRevalidations); }},
      {"cache_bypasses", "int",
       "GET and HEAD requests the cache was not asked for (no-store, Authorization)",
       [](const P& p) { return py::cast(p.cacheBypasses); }},
      {"cache_evictions", "int", "entries evicted to stay within cache_size",
       [](const P& p) { return py::cast(p.cacheEvictions); }},
      {"cache_bytes", "int", "bytes the cache holds now (bodies, fields and bookkeeping)",
       [](const P& p) { return py::cast(p.cacheBytes); }},
      {"cache_entries", "int", "responses the cache holds now",
       [](const P& p) { return py::cast(p.cacheEntries); }},
      {"gzipped", "int", "responses compressed with gzip on their way to the client (gzip)",
       [](const P& p) { return py::cast(p.gzipped); }},
      {"health_checks", "int", "active health checks made (health_check)",
       [](const P& p) { return py::cast(p.healthChecks); }},
      {"health_check_failures", "int",
       "active health checks failed: refused, timed out, closed, or not 2xx/3xx",
       [](const P& p) { return py::cast(p.healthCheckFailures); }},
      {"access_log_bytes", "int", "bytes written to access_log",
       [](const P& p) { return py::cast(p.accessLogBytes); }},
      {"access_log_dropped", "int", "access log lines dropped because the disk fell 8 MiB behind",
       [](const P& p) { return py::cast(p.accessLogDropped); }},
      {"access_log_errors", "int",
       "writes to access_log that failed (a full disk, say): their lines are lost",
       [](const P& p) { return py::cast(p.accessLogErrors); }},
  };
  return columns;
}

const Columns<FileSnapshot>& fileColumns() {
  using F = FileSnapshot;
  static const Columns<F> columns = {
      {"files_stored", "int", "uploads completed: checked, fsynced and renamed into place",
       [](const F& f) { return py::cast(f.stored); }},
      {"files_served", "int", "downloads started (line protocol and HTTP GET)",
       [](const F& f) { return py::cast(f.served); }},
      {"sendfile_bytes", "int", "bytes of files queued for sendfile(2)",
       [](const F& f) { return py::cast(f.sendfileBytes); }},
      {"resumes", "int", "uploads resumed from a partial (RESUME)",
       [](const F& f) { return py::cast(f.resumes); }},
      {"files_hashed", "int", "files hashed on a disk thread (placed in the root by other means)",
       [](const F& f) { return py::cast(f.hashed); }},
      {"used_bytes", "int", "bytes under the root as the quota counts them, partials included",
       [](const F& f) { return py::cast(f.usedBytes); }},
      {"refusals", "dict[str, int]",
       "requests refused, by reason (bad_name, not_found, forbidden, busy, too_large, quota, "
       "too_many_uploads, checksum, bad_range, stalled, io_error, bad_command)",
       [](const F& f) { return py::cast(f.refusals); }},
      {"protocols", "dict[str, int]", "connections by the protocol they spoke: http, line",
       [](const F& f) { return py::cast(f.protocols); }},
  };
  return columns;
}

const Columns<LogSnapshot>& logColumns() {
  using L = LogSnapshot;
  static const Columns<L> columns = {
      {"logs_received", "int", "logs parsed on this port (ingest)",
       [](const L& l) { return py::cast(l.received); }},
      {"logs_acknowledged", "int",
       "logs answered OK (ack=received: once parsed; ack=durable: once committed)",
       [](const L& l) { return py::cast(l.acknowledged); }},
      {"parse_errors", "int", "lines refused with ERROR (unknown command, bad level or time)",
       [](const L& l) { return py::cast(l.parseErrors); }},
      {"truncated", "int", "messages longer than max_message, stored truncated and flagged",
       [](const L& l) { return py::cast(l.truncated); }},
      {"queries", "int", "queries run (query port)",
       [](const L& l) { return py::cast(l.queries); }},
      {"bad_tokens", "int", "connections refused for a missing or wrong AUTH token",
       [](const L& l) { return py::cast(l.badTokens); }},
      {"rate_limited", "int", "times a client was paused for passing message_rate",
       [](const L& l) { return py::cast(l.rateLimited); }},
      {"rows_returned", "int", "rows the queries returned",
       [](const L& l) { return py::cast(l.rowsReturned); }},
      {"store_logs", "int", "logs the store has committed since it was opened (all its ports)",
       [](const L& l) { return py::cast(l.stored); }},
      {"store_batches", "int", "commits (each a batch of logs: group commit)",
       [](const L& l) { return py::cast(l.batches); }},
      {"store_duplicates", "int", "logs resent with an idempotency key already stored",
       [](const L& l) { return py::cast(l.duplicates); }},
      {"store_failed_batches", "int", "batches that could not be committed",
       [](const L& l) { return py::cast(l.failedBatches); }},
      {"store_deleted", "int", "logs deleted by retention (age, then size)",
       [](const L& l) { return py::cast(l.deleted); }},
      {"store_queued", "int", "logs waiting for the writer now",
       [](const L& l) { return py::cast(l.queued); }},
      {"store_unindexed", "int",
       "logs committed to the journal and not yet in the block index (queries read both)",
       [](const L& l) { return py::cast(l.unindexed); }},
      {"store_index_errors", "int",
       "index blocks SQLite refused (retried), journal reads that failed (retried), "
       "damaged journal batches skipped",
       [](const L& l) { return py::cast(l.indexErrors); }},
  };
  return columns;
}

// The store's rows as dicts; the query runs with the GIL released.
py::list queryStore(LogPort& p, const std::string& keyword, const py::object& level,
                    const py::object& maxLevel, const py::object& since, const py::object& until,
                    const std::string& host, const std::string& app, int64_t limit) {
  logs::Filter f;
  f.keyword = keyword;
  auto levelOf = [](const py::object& o) {
    if (o.is_none()) return -1;
    auto parsed = logs::parseLevel(py::str(o).cast<std::string>());
    if (!parsed) raise(Error{EINVAL, "unknown level " + py::str(o).cast<std::string>()});
    return *parsed;
  };
  auto timeOf = [](const py::object& o) -> int64_t {  // seconds since the epoch, or RFC 3339
    if (o.is_none()) return -1;
    if (py::isinstance<py::str>(o)) {
      auto t = logs::parseTimestamp(o.cast<std::string>());
      if (!t) raise(Error{EINVAL, "bad time " + o.cast<std::string>()});
      return *t;
    }
    return static_cast<int64_t>(o.cast<double>() * 1000);
  };
  f.level = levelOf(level);
  f.maxLevel = levelOf(maxLevel);
  f.sinceMs = timeOf(since);
  f.untilMs = timeOf(until);
  f.host = host;
  f.app = app;
  if (limit < 1) raise(Error{EINVAL, "limit must be at least 1"});
  f.limit = static_cast<size_t>(limit);
  Result<std::vector<logs::LogRecord>> rows = [&] {
    py::gil_scoped_release release;
    return p.store().query(f);
  }();
  if (!rows.ok()) raise(rows.error());
  py::list out;
  for (const auto& r : rows.value()) {
    py::dict d;
    d["id"] = r.id;
    d["level"] = std::string(logs::levelName(r.level));
    d["time"] = static_cast<double>(r.timeMs) / 1000.0;
    d["timestamp"] = logs::formatTimestamp(r.timeMs);
    d["host"] = r.host;
    d["app"] = r.app;
    d["message"] = r.message;
    d["truncated"] = (r.flags & logs::kTruncated) != 0;
    d["parse_error"] = (r.flags & logs::kParseError) != 0;
    out.append(d);
  }
  return out;
}

py::dict statsDict(Server& s) { return toDict(statsColumns(), viewOf(s)); }

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
  OptionMap values = optionMap(kwargs);
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
  recordRegistry()["ServerStats"] = describeRecord(
      statsColumns(), "Exact counters of a server since it was created (they survive stop()).");
  recordRegistry()["ChatStats"] = describeRecord(
      chatColumns(), "A ChatServer's counters: the server's and its rooms'.", "ServerStats");
  recordRegistry()["HttpStats"] = describeRecord(
      httpColumns(), "An HttpServer's counters: the server's, and its requests and responses.",
      "ServerStats");
  recordRegistry()["HttpProxyStats"] = describeRecord(
      proxyColumns(), "An HttpProxy's counters: the server's, its responses and its upstreams'.",
      "ServerStats");
  recordRegistry()["FileStats"] = describeRecord(
      fileColumns(), "A FileServer's counters: the server's, its transfers and its refusals.",
      "ServerStats");
  recordRegistry()["LogStats"] =
      describeRecord(logColumns(), "A log port's counters: the server's, its logs and its store's.",
                     "ServerStats");
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
      .def("snapshot", [](const ChatProtocol& p) { return toDict(chatColumns(), p.snapshot()); });
  py::class_<RelayProtocol, Protocol, std::shared_ptr<RelayProtocol>>(m, "RelayProtocol");
  py::class_<HttpProtocol, Protocol, std::shared_ptr<HttpProtocol>>(m, "HttpProtocol")
      .def("snapshot", [](const HttpProtocol& p) { return toDict(httpColumns(), p.snapshot()); });
  py::class_<FileProtocol, Protocol, std::shared_ptr<FileProtocol>>(m, "FileProtocol")
      .def("snapshot", [](const FileProtocol& p) { return toDict(fileColumns(), p.snapshot()); });
  py::class_<LogPort, Protocol, std::shared_ptr<LogPort>>(m, "LogPort")
      .def("snapshot", [](const LogPort& p) { return toDict(logColumns(), p.snapshot()); })
      .def(
          "flush", [](LogPort& p) { p.store().flush(); }, py::call_guard<py::gil_scoped_release>())
      .def(
          "wait_indexed",
          [](LogPort& p, int64_t target, double timeout) {
            return p.store().waitIndexed(target, timeout);
          },
          py::arg("target"), py::arg("timeout"), py::call_guard<py::gil_scoped_release>())
      .def("committed_id", [](LogPort& p) { return p.store().committedId(); })
      .def("query", &queryStore, py::arg("keyword") = "", py::arg("level") = py::none(),
           py::arg("max_level") = py::none(), py::arg("since") = py::none(),
           py::arg("until") = py::none(), py::arg("host") = "", py::arg("app") = "",
           py::arg("limit") = 100);
  py::class_<LogIngestProtocol, LogPort, std::shared_ptr<LogIngestProtocol>>(m,
                                                                             "LogIngestProtocol");
  py::class_<LogQueryProtocol, LogPort, std::shared_ptr<LogQueryProtocol>>(m, "LogQueryProtocol");
  py::class_<LogSyslogProtocol, LogPort, std::shared_ptr<LogSyslogProtocol>>(m,
                                                                             "LogSyslogProtocol");
  py::class_<HttpProxyProtocol, Protocol, std::shared_ptr<HttpProxyProtocol>>(m,
                                                                              "HttpProxyProtocol")
      .def("snapshot",
           [](const HttpProxyProtocol& p) { return toDict(proxyColumns(), p.snapshot()); })
      .def(
          "purge",
          [](HttpProxyProtocol& p, const std::string& target) {
            py::gil_scoped_release unlocked;  // waits for the cache's lock
            return p.purge(target);
          },
          py::arg("target"));

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
