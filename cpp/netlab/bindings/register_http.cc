// The HTTP/1.1 parser for Python (netlab.http): it keeps the bytes fed to it and hands out
// one event at a time, as (kind, value) tuples that netlab/http.py turns into objects.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "netlab/bindings/errors.h"
#include "netlab/http/parser.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

using http::Event;

// Header bytes become str as latin-1, so obs-text bytes survive the round trip (as
// http.client and h11 keep them).
py::str latin1(std::string_view s) {
  return py::reinterpret_steal<py::str>(PyUnicode_DecodeLatin1(s.data(), s.size(), nullptr));
}

py::list fieldList(const std::vector<http::Field>& fields) {
  py::list out;
  for (const http::Field& f : fields) out.append(py::make_tuple(latin1(f.name), latin1(f.value)));
  return out;
}

py::dict headDict(const http::Head& h) {
  py::dict d;
  if (h.isRequest) {
    d["method"] = latin1(h.method);
    d["target"] = latin1(h.target);
  } else {
    d["status"] = h.status;
    d["reason"] = latin1(h.reason);
  }
  d["http_version"] = h.versionMinor == 0 ? "1.0" : "1.1";
  d["headers"] = fieldList(h.fields);
  d["keep_alive"] = h.keepAlive;
  d["expect_continue"] = h.expectContinue;
  d["content_length"] =
      h.contentLength >= 0 ? py::object(py::int_(h.contentLength)) : py::object(py::none());
  d["chunked"] = h.framing == http::Framing::kChunked;
  return d;
}

class PyParser {
 public:
  PyParser(bool request, size_t maxFields, size_t maxLine, size_t maxHead)
      : parser_(request ? http::Role::kRequest : http::Role::kResponse,
                http::Limits{maxFields, maxLine, maxHead}) {}

  void feed(std::string_view data) {
    if (eof_) throw py::value_error("feed() after feed_eof()");
    held_.append(data);
  }
  void feedEof() { eof_ = true; }
  void expect(std::string_view method) { parser_.expectResponseTo(method); }

  py::tuple next() {
    std::string_view unread = std::string_view(held_).substr(offset_);
    Event e = eof_ ? parser_.finish(unread) : parser_.next(unread);
    py::tuple out = toPython(e);
    offset_ += e.consumed;
    // Consumed bytes are dropped in bulk, so many small events cost O(n), not O(n^2).
    if (offset_ == held_.size() || offset_ > held_.size() / 2) {
      held_.erase(0, offset_);
      offset_ = 0;
    }
    return out;
  }
  size_t buffered() const { return held_.size() - offset_; }

 private:
  py::tuple toPython(const Event& e) const {
    switch (e.type) {
      case Event::kHead:
        return py::make_tuple("head", headDict(parser_.head()));
      case Event::kBody:
        return py::make_tuple("data", py::bytes(e.body.data(), e.body.size()));
      case Event::kEnd:
        return py::make_tuple("end", fieldList(parser_.trailers()));
      case Event::kClosed:
        return py::make_tuple("closed", py::none());
      case Event::kError:
        return py::make_tuple(
            "error", py::make_tuple(parser_.error().status, std::string(parser_.error().reason)));
      case Event::kNeedData:
        break;
    }
    return py::make_tuple("need_data", py::none());
  }

  http::Parser parser_;
  std::string held_;
  size_t offset_ = 0;  // bytes of held_ already consumed
  bool eof_ = false;
};

}  // namespace

void registerHttp(py::module_& m) {
  py::class_<PyParser>(m, "HttpParser")
      .def(py::init<bool, size_t, size_t, size_t>(), py::arg("request"), py::arg("max_headers"),
           py::arg("max_line"), py::arg("max_head"))
      .def("feed", &PyParser::feed, py::arg("data"))
      .def("feed_eof", &PyParser::feedEof)
      .def("expect_response_to", &PyParser::expect, py::arg("method"))
      .def("next_event", &PyParser::next,
           "(kind, value): head (dict), data (bytes), end (trailers), closed, need_data, or "
           "error ((status, reason)).")
      .def_property_readonly("buffered", &PyParser::buffered);
}

}  // namespace netlab::py_bindings
