// netlab.load: the C++ load generator as Python sees it. Results cross as dicts made from the
// column tables below; the Python layer wraps them in LoadResult.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
#include "netlab/bindings/options_py.h"
#include "netlab/bindings/records.h"
#include "netlab/io/clock.h"
#include "netlab/load/load_generator.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

template <class T, class V>
Column<T> col(const char* name, const char* type, const char* help, V T::*member) {
  return {name, type, help, [member](const T& t) { return py::cast(t.*member); }};
}

template <class T>
Column<T> msCol(const char* name, const char* help, uint64_t T::*member) {
  return {name, "float", help, [member](const T& t) { return py::cast(ms(t.*member)); }};
}

const Columns<LatencySummary>& latencyColumns() {
  using L = LatencySummary;
  static const Columns<L> columns = {
      col("count", "int", "latencies recorded", &L::count),
      msCol("min", "fastest, ms", &L::min),
      {"mean", "float", "mean, ms", [](const L& l) { return py::cast(l.mean / 1e6); }},
      msCol("p50", "median, ms", &L::p50),
      msCol("p90", "90th percentile, ms", &L::p90),
      msCol("p99", "99th percentile, ms", &L::p99),
      msCol("p99.9", "99.9th percentile, ms", &L::p999),
      msCol("max", "slowest, ms", &L::max),
  };
  return columns;
}

const Columns<TimelinePoint>& secondColumns() {
  using P = TimelinePoint;
  static const Columns<P> columns = {
      col("second", "int", "seconds since the run began (0 is the first)", &P::second),
      col("requests", "int", "requests sent in this second", &P::requests),
      col("responses", "int", "correct responses received", &P::responses),
      col("errors", "int", "failed requests and connection attempts", &P::errors),
      col("bytes_in", "int", "bytes received", &P::bytesIn),
      col("bytes_out", "int", "bytes sent", &P::bytesOut),
      msCol("p50_ms", "median latency of the second's responses", &P::p50),
      msCol("p90_ms", "90th percentile latency", &P::p90),
      msCol("p99_ms", "99th percentile latency", &P::p99),
      msCol("max_ms", "slowest response", &P::max),
      col("inflight", "int", "requests outstanding at the end of the second", &P::inflight),
      col("never_answered", "int", "connections that have sent but received nothing yet",
          &P::neverAnswered),
      col("unanswered", "int", "last second only: requests unanswered when the run ended",
          &P::unanswered),
  };
  return columns;
}

py::list secondsList(const std::vector<TimelinePoint>& points) {
  py::list out;
  for (const TimelinePoint& p : points) out.append(toDict(secondColumns(), p));
  return out;
}

py::dict latencyDict(const LatencySummary& l) { return toDict(latencyColumns(), l); }

py::object spectrumList(const std::vector<std::pair<double, uint64_t>>& points) {
  py::list out;
  for (const auto& [percentile, ns] : points) out.append(py::make_tuple(percentile, ms(ns)));
  return std::move(out);
}

const Columns<LoadResult>& resultColumns() {
  using R = LoadResult;
  static const Columns<R> columns = {
      col("duration", "float", "seconds the run lasted", &R::durationSec),
      col("open_loop", "bool", "requests left at a fixed rate (wrk2-style)", &R::openLoop),
      col("target_rate", "float", "the open-loop rate asked for, requests/s", &R::targetRate),
      col("requests", "int", "requests sent", &R::requests),
      col("responses", "int", "correct responses", &R::responses),
      col("errors", "int", "failed requests and failed connection attempts", &R::errors),
      col("unanswered", "int",
          "requests still unanswered after the end-of-run drain (min(response_timeout, 1 s))",
          &R::unanswered),
      {"unanswered_oldest_ms", "float",
       "how long the oldest unanswered request had waited when the run ended",
       [](const R& r) { return py::cast(ms(static_cast<uint64_t>(r.oldestUnansweredAgeNs))); }},
      col("never_answered", "int",
          "connections that sent at least one request and received nothing in the whole run",
          &R::neverAnswered),
      col("connections", "int", "connections configured", &R::connections),
      {"errors_by_kind", "dict[str, int]", "failures by kind (refused, reset, timeout, ...)",
       [](const R& r) {
         py::dict kinds;
         for (size_t k = 0; k < kLoadErrorKinds; ++k)
           kinds[loadErrorName(static_cast<LoadError>(k))] = r.errorsByKind[k];
         return py::object(kinds);
       }},
      {"error_messages", "dict[str, str]", "the first message of each kind of failure",
       [](const R& r) {
         py::dict messages;
         for (size_t k = 0; k < kLoadErrorKinds; ++k) {
           if (!r.firstErrorMessage[k].empty())
             messages[loadErrorName(static_cast<LoadError>(k))] = r.firstErrorMessage[k];
         }
         return py::object(messages);
       }},
      col("bytes_in", "int", "bytes received", &R::bytesIn),
      col("bytes_out", "int", "bytes sent", &R::bytesOut),
      {"status_codes", "dict[int, int]",
       "http: responses by status code (every correctly framed response, whatever its status)",
       [](const R& r) {
         py::dict codes;
         for (const auto& [code, n] : r.statusCodes) codes[py::int_(code)] = n;
         return py::object(codes);
       }},
      col("non_2xx", "int",
          "http: responses whose status is not 2xx (counted in responses, not in errors)",
          &R::non2xx),
      col("connections_opened", "int", "connections established", &R::connectionsOpened),
      col("idle_opened", "int", "idle connections opened before the run (idle_connections)",
          &R::idleOpened),
      col("idle_failed", "int", "idle connections that could not be opened", &R::idleFailed),
      col("idle_dropped", "int", "idle connections the server closed or reset before the run ended",
          &R::idleDropped),
      col("idle_error", "str", "why the first idle connection could not be opened (empty: none)",
          &R::idleError),
      {"latency_ms", "dict[str, float]",
       "latency from each request's intended send time (count, min, mean, p50, p90, p99, "
       "p99.9, max)",
       [](const R& r) { return py::object(latencyDict(r.latency)); }},
      {"latency_uncorrected_ms", "dict[str, float]",
       "latency from each request's actual send time (the same keys)",
       [](const R& r) { return py::object(latencyDict(r.latencyUncorrected)); }},
      {"percentiles_ms", "list[tuple[float, float]]",
       "(percentile, latency ms) from 0 to 100, finer towards the tail (HdrHistogram's "
       "percentile distribution; corrected, as latency_ms)",
       [](const R& r) { return spectrumList(r.spectrum); }},
      {"percentiles_uncorrected_ms", "list[tuple[float, float]]",
       "the same, from each request's actual send time",
       [](const R& r) { return spectrumList(r.spectrumUncorrected); }},
      {"timeline", "list[TimelineSecond]", "the run second by second",
       [](const R& r) { return py::object(secondsList(r.timeline)); }},
      {"syscalls", "dict[str, int]", "the client's read, write, epoll_wait and connect calls",
       [](const R& r) {
         py::dict sys;
         sys["read"] = r.syscalls.read;
         sys["write"] = r.syscalls.write;
         sys["epoll_wait"] = r.syscalls.wait;
         sys["connect"] = r.syscalls.connect;
         return py::object(sys);
       }},
      col("cpu_seconds", "float", "CPU time of the generator's threads", &R::cpuSec),
  };
  return columns;
}

const Columns<LoadProgress>& progressColumns() {
  using P = LoadProgress;
  static const Columns<P> columns = {
      col("elapsed", "float", "seconds since the run began", &P::elapsedSec),
      col("requests", "int", "requests sent so far", &P::requests),
      col("responses", "int", "correct responses so far", &P::responses),
      col("errors", "int", "failures so far", &P::errors),
      col("bytes_in", "int", "bytes received so far", &P::bytesIn),
      col("bytes_out", "int", "bytes sent so far", &P::bytesOut),
      col("connections_opened", "int", "connections established so far", &P::connections),
      col("finished", "bool", "the run has ended", &P::finished),
      {"new_seconds", "list[TimelineSecond]", "seconds completed since the previous poll",
       [](const P& p) { return py::object(secondsList(p.newSeconds)); }},
  };
  return columns;
}

std::unique_ptr<LoadGenerator> newGenerator(const CodecHandle* codec, const py::kwargs& kwargs) {
  LoadConfig c;
  applyKwargs(c, kwargs, "LoadGenerator");
  if (codec) c.codec = codec->codec;
  auto gen = LoadGenerator::create(std::move(c));
  if (!gen.ok()) raise(gen.error());
  return std::move(gen.value());
}

// Thousands of idle connects may take a while: in slices, so Ctrl+C is heard.
void openIdle(LoadGenerator& g) {
  for (;;) {
    bool opened;
    {
      py::gil_scoped_release release;
      opened = g.openIdle(100 * kNsPerMs);
    }
    if (opened) return;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

}  // namespace

void registerLoad(py::module_& m) {
  recordRegistry()["TimelineSecond"] = describeRecord(secondColumns(), "One second of a load run.");
  recordRegistry()["LoadProgress"] =
      describeRecord(progressColumns(), "A running load generator's live counters.");
  recordRegistry()["LoadResultFields"] = describeRecord(resultColumns(), "What one run measured.");
  m.def(
      "load_options", [] { return describeOptions(describe<LoadConfig>()); },
      "Every load generator option: name, type, default, range, unit and help.");
  py::class_<LoadGenerator>(m, "LoadGenerator")
      .def(py::init(&newGenerator), py::arg("codec") = nullptr)
      .def(
          "option_values", [](const LoadGenerator& g) { return valuesDict(valuesOf(g.config())); },
          "Every option as the run holds it.")
      .def(
          "start",
          [](LoadGenerator& g, bool onThisThread) {
            openIdle(g);
            check(g.start(onThisThread));
          },
          py::arg("on_this_thread") = false,
          "Opens the idle connections, if any, then starts the run.")
      .def("open_idle", &openIdle,
           "Opens the idle connections now (start() does it otherwise); Ctrl+C is heard.")
      .def("wait", &LoadGenerator::wait, py::arg("timeout"),
           py::call_guard<py::gil_scoped_release>())
      .def("stop", &LoadGenerator::stop, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("finished", &LoadGenerator::finished)
      .def("progress", [](LoadGenerator& g) { return toDict(progressColumns(), g.progress()); })
      .def("result", [](const LoadGenerator& g) { return toDict(resultColumns(), g.result()); });
}

}  // namespace netlab::py_bindings
