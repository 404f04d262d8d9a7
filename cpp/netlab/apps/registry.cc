#include "netlab/apps/registry.h"

#include "netlab/apps/chat.h"
#include "netlab/apps/echo.h"
#include "netlab/apps/files/file_server.h"
#include "netlab/apps/http/http_server.h"
#include "netlab/apps/http_proxy/proxy.h"
#include "netlab/apps/logs/log_server.h"
#include "netlab/apps/pingpong.h"
#include "netlab/apps/relay.h"

namespace netlab {
namespace {

// The one generic step every entry shares: options by name into the app's struct, checked
// by its table (and by the struct's own validate(), where it has one).
template <class Options, class Build>
AppSpec entry(std::string name, std::string summary, bool takesCodec, std::string scenario,
              Build build) {
  AppSpec spec{std::move(name), std::move(summary),  describe<Options>(),
               takesCodec,      std::move(scenario), nullptr};
  spec.make = [build](const OptionMap& values,
                      std::shared_ptr<const Codec> codec) -> Result<std::shared_ptr<Protocol>> {
    Options options;
    Status st = applyValues(options, values);
    if (!st.ok()) return st.error();
    return build(std::move(options), std::move(codec));
  };
  return spec;
}

std::vector<AppSpec> buildApps() {
  std::vector<AppSpec> list;
  list.push_back(entry<EchoOptions>(
      "echo", "RFC 862 echo: every byte comes back (frame by frame with a codec)", true, "echo",
      [](EchoOptions o, std::shared_ptr<const Codec> codec) -> Result<std::shared_ptr<Protocol>> {
        return std::shared_ptr<Protocol>(std::make_shared<EchoProtocol>(o, std::move(codec)));
      }));
  list.push_back(entry<PingPongOptions>(
      "pingpong", "line protocol: ping gets pong, any other line is acknowledged", false, "line",
      [](PingPongOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        return std::shared_ptr<Protocol>(std::make_shared<PingPongProtocol>(o));
      }));
  list.push_back(entry<ChatOptions>(
      "chat", "broadcast chat with nicknames, rooms and private messages", true, "chat",
      [](ChatOptions o, std::shared_ptr<const Codec> codec) -> Result<std::shared_ptr<Protocol>> {
        if (codec) {
          if (codec->name() != "header") {
            return Error{EINVAL, "chat's binary mode takes a HeaderCodec"};
          }
          o.codec = std::move(codec);
        }
        return std::shared_ptr<Protocol>(std::make_shared<ChatProtocol>(std::move(o)));
      }));
  list.push_back(entry<RelayOptions>(
      "relay", "TCP port forwarder to a target host:port", false, "echo",
      [](RelayOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        Status valid = validate(o);
        if (!valid.ok()) return valid.error();
        return std::shared_ptr<Protocol>(std::make_shared<RelayProtocol>(std::move(o)));
      }));
  list.push_back(entry<HttpOptions>(
      "http", "httpbin-like HTTP/1.1 origin: /get /post /bytes/N /stream/N /delay/MS ...", false,
      "http", [](HttpOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        return std::shared_ptr<Protocol>(std::make_shared<HttpProtocol>(o));
      }));
  list.push_back(entry<HttpProxyOptions>(
      "http-proxy", "HTTP/1.1 reverse proxy: balanced, pooled upstreams, bodies streamed", false,
      "http",
      [](HttpProxyOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        return makeHttpProxy(std::move(o));
      }));
  list.push_back(entry<files::FileOptions>(
      "files",
      "file server: UPLOAD/DOWNLOAD line protocol (sizes, sha256, resume) and HTTP (GET with "
      "ranges, PUT, listings) on one port",
      false, "http",
      [](files::FileOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        return FileProtocol::make(std::move(o));
      }));
  list.push_back(entry<LogIngestOptions>(
      "logs",
      "log collector ingest port: LOG|level|time|message lines into a durable, indexed store",
      false, "line",
      [](LogIngestOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        return LogIngestProtocol::make(std::move(o));
      }));
  list.push_back(entry<LogSyslogOptions>(
      "logs-syslog",
      "log collector syslog port: RFC 5424 and 3164 over TCP, octet-counted or LF-framed", false,
      "line",
      [](LogSyslogOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        return LogSyslogProtocol::make(std::move(o));
      }));
  list.push_back(entry<LogQueryOptions>(
      "logs-query", "log collector query port: QUERY|KEYWORD|word and filters over the store",
      false, "line",
      [](LogQueryOptions o, std::shared_ptr<const Codec>) -> Result<std::shared_ptr<Protocol>> {
        return LogQueryProtocol::make(std::move(o));
      }));
  return list;
}

}  // namespace

const std::vector<AppSpec>& apps() {
  static const std::vector<AppSpec> list = buildApps();
  return list;
}

const AppSpec* findApp(std::string_view name) {
  for (const auto& app : apps()) {
    if (app.name == name) return &app;
  }
  return nullptr;
}

std::vector<std::string> unknownOptions(const AppSpec& app, const OptionMap& values) {
  std::vector<std::string> unknown;
  for (const auto& [name, value] : values) {
    bool known = findField<ServerOptions>(name) != nullptr;
    for (const auto& option : app.options) known = known || option.name == name;
    if (!known) unknown.push_back(name);
  }
  return unknown;
}

Result<std::unique_ptr<Server>> makeAppServer(const AppSpec& app, const OptionMap& values,
                                              std::shared_ptr<const Codec> codec) {
  if (codec && !app.takesCodec) {
    return Error{EINVAL, "the " + app.name + " server takes no codec"};
  }
  OptionMap own;
  for (const auto& option : app.options) {
    auto it = values.find(option.name);
    if (it != values.end()) own.insert(*it);
  }
  auto protocol = app.make(own, std::move(codec));
  if (!protocol.ok()) return protocol.error();
  ServerOptions options;
  Status st = applyValues(options, values);
  if (!st.ok()) return st.error();
  return makeServer(std::move(protocol.value()), options);
}

}  // namespace netlab
