// netlab.load: the C++ load generator as Python sees it. Results cross as plain dicts; the
// Python layer wraps them in LoadResult.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
#include "netlab/load/load_generator.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

py::dict latencyDict(const LatencySummary& l) {
  py::dict d;
  d["count"] = l.count;
  d["min"] = ms(l.min);
  d["mean"] = l.mean / 1e6;
  d["p50"] = ms(l.p50);
  d["p90"] = ms(l.p90);
  d["p99"] = ms(l.p99);
  d["p99.9"] = ms(l.p999);
  d["max"] = ms(l.max);
  return d;
}

py::list timelineList(const std::vector<TimelinePoint>& points) {
  py::list out;
  for (const TimelinePoint& p : points) {
    py::dict d;
    d["second"] = p.second;
    d["requests"] = p.requests;
    d["responses"] = p.responses;
    d["errors"] = p.errors;
    d["bytes_in"] = p.bytesIn;
    d["bytes_out"] = p.bytesOut;
    d["p50_ms"] = ms(p.p50);
    d["p90_ms"] = ms(p.p90);
    d["p99_ms"] = ms(p.p99);
    d["max_ms"] = ms(p.max);
    d["inflight"] = p.inflight;
    d["never_answered"] = p.neverAnswered;
    d["unanswered"] = p.unanswered;
    out.append(d);
  }
  return out;
}

py::dict resultDict(const LoadResult& r) {
  py::dict d;
  d["duration"] = r.durationSec;
  d["open_loop"] = r.openLoop;
  d["target_rate"] = r.targetRate;
  d["requests"] = r.requests;
  d["responses"] = r.responses;
  d["errors"] = r.errors;
  d["unanswered"] = r.unanswered;
  d["unanswered_oldest_ms"] = ms(static_cast<uint64_t>(r.oldestUnansweredAgeNs));
  d["never_answered"] = r.neverAnswered;
  d["connections"] = r.connections;
  py::dict kinds, messages;
  for (size_t k = 0; k < kLoadErrorKinds; ++k) {
    const char* name = loadErrorName(static_cast<LoadError>(k));
    kinds[name] = r.errorsByKind[k];
    if (!r.firstErrorMessage[k].empty()) messages[name] = r.firstErrorMessage[k];
  }
  d["errors_by_kind"] = kinds;
  d["error_messages"] = messages;
  d["bytes_in"] = r.bytesIn;
  d["bytes_out"] = r.bytesOut;
  d["connections_opened"] = r.connectionsOpened;
  d["latency_ms"] = latencyDict(r.latency);
  d["latency_uncorrected_ms"] = latencyDict(r.latencyUncorrected);
  d["timeline"] = timelineList(r.timeline);
  py::dict sys;
  sys["read"] = r.syscalls.read;
  sys["write"] = r.syscalls.write;
  sys["epoll_wait"] = r.syscalls.wait;
  sys["connect"] = r.syscalls.connect;
  d["syscalls"] = sys;
  d["cpu_seconds"] = r.cpuSec;
  return d;
}

py::dict progressDict(const LoadProgress& p) {
  py::dict d;
  d["elapsed"] = p.elapsedSec;
  d["requests"] = p.requests;
  d["responses"] = p.responses;
  d["errors"] = p.errors;
  d["bytes_in"] = p.bytesIn;
  d["bytes_out"] = p.bytesOut;
  d["connections_opened"] = p.connections;
  d["finished"] = p.finished;
  d["new_seconds"] = timelineList(p.newSeconds);
  return d;
}

std::unique_ptr<LoadGenerator> newGenerator(
    const std::string& host, int port, const std::string& scenario, int connections, int threads,
    double duration, int64_t requests, double rate, int pipeline, double thinkTime,
    double connectRate, double connectTimeout, double responseTimeout, int64_t size,
    std::optional<py::bytes> request, std::optional<py::bytes> expect, const CodecHandle* codec,
    int64_t maxResponse, int rooms) {
  // Python ints arrive signed, so a negative value gets the same clear ValueError as any
  // other out-of-range one; validate() checks the rest.
  if (port < 1 || port > 65535)
    raise(Error{EINVAL, "port must be between 1 and 65535 (got " + std::to_string(port) + ")"});
  if (requests < 0)
    raise(Error{EINVAL,
                "requests must be 0 (no budget) or more (got " + std::to_string(requests) + ")"});
  if (maxResponse < 1)
    raise(Error{EINVAL,
                "max_response must be at least 1 byte (got " + std::to_string(maxResponse) + ")"});
  if (size < 1 || size > maxResponse) {
    raise(Error{EINVAL, "size must be between 1 and max_response (" + std::to_string(maxResponse) +
                            ") bytes (got " + std::to_string(size) + ")"});
  }
  LoadConfig c;
  c.host = host;
  c.port = static_cast<uint16_t>(port);
  c.scenario = scenario;
  c.connections = connections;
  c.threads = threads;
  c.durationSec = duration;
  c.requests = static_cast<uint64_t>(requests);
  c.rate = rate;
  c.pipeline = pipeline;
  c.thinkTimeSec = thinkTime;
  c.connectRate = connectRate;
  c.connectTimeoutSec = connectTimeout;
  c.responseTimeoutSec = responseTimeout;
  c.size = static_cast<size_t>(size);
  if (request) c.request = std::string(*request);
  if (expect) c.expect = std::string(*expect);
  if (codec) c.codec = codec->codec;
  c.maxResponse = static_cast<size_t>(maxResponse);
  c.rooms = rooms;
  auto gen = LoadGenerator::create(std::move(c));
  if (!gen.ok()) raise(gen.error());
  return std::move(gen.value());
}

}  // namespace

void registerLoad(py::module_& m) {
  py::class_<LoadGenerator>(m, "LoadGenerator")
      .def(py::init(&newGenerator), py::arg("host"), py::arg("port"), py::arg("scenario"),
           py::arg("connections"), py::arg("threads"), py::arg("duration"), py::arg("requests"),
           py::arg("rate"), py::arg("pipeline"), py::arg("think_time"), py::arg("connect_rate"),
           py::arg("connect_timeout"), py::arg("response_timeout"), py::arg("size"),
           py::arg("request"), py::arg("expect"), py::arg("codec"), py::arg("max_response"),
           py::arg("rooms") = 1)
      .def(
          "start", [](LoadGenerator& g, bool onThisThread) { check(g.start(onThisThread)); },
          py::arg("on_this_thread") = false)
      .def("wait", &LoadGenerator::wait, py::arg("timeout"),
           py::call_guard<py::gil_scoped_release>())
      .def("stop", &LoadGenerator::stop, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("finished", &LoadGenerator::finished)
      .def("progress", [](LoadGenerator& g) { return progressDict(g.progress()); })
      .def("result", [](const LoadGenerator& g) { return resultDict(g.result()); });
}

}  // namespace netlab::py_bindings
