// The non-blocking client behind netlab.locust.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
#include "netlab/bindings/options_py.h"
#include "netlab/client/async_client.h"

namespace py = pybind11;

namespace netlab::py_bindings {

void registerAsync(py::module_& m) {
  using Completion = AsyncClient::Completion;
  py::class_<Completion>(m, "Completion", "One finished request of an AsyncClient.")
      .def_readonly("ticket", &Completion::ticket, "the ticket given to submit()")
      .def_readonly("ok", &Completion::ok, "the expected response arrived")
      .def_readonly("latency_ns", &Completion::latencyNs, "send to response, nanoseconds")
      .def_readonly("bytes", &Completion::bytes, "response bytes")
      .def_property_readonly(
          "error_kind",
          [](const Completion& c) { return c.ok ? std::string() : loadErrorName(c.kind); },
          "refused, reset, timeout, closed, mismatch, protocol, ...; empty when ok")
      .def_readonly("message", &Completion::message, "what went wrong, for people")
      .def_readonly("status", &Completion::status, "http: the response's status code")
      .def_property_readonly(
          "headers",
          [](const Completion& c) {
            py::list out;  // latin-1, as http.client keeps header bytes
            for (const auto& [name, value] : c.headers) {
              out.append(py::make_tuple(py::reinterpret_steal<py::str>(PyUnicode_DecodeLatin1(
                                            name.data(), name.size(), nullptr)),
                                        py::reinterpret_steal<py::str>(PyUnicode_DecodeLatin1(
                                            value.data(), value.size(), nullptr))));
            }
            return out;
          },
          "http: the response's header fields, in order")
      .def_property_readonly(
          "body", [](const Completion& c) { return py::bytes(c.body); },
          "http: the response's body")
      .def("__repr__", [](const Completion& c) {
        return "<Completion ticket=" + std::to_string(c.ticket) + (c.ok ? " ok" : " failed") +
               " latency_ns=" + std::to_string(c.latencyNs) + ">";
      });

  py::class_<AsyncClient>(m, "AsyncClient")
      .def(py::init([](const CodecHandle* codec, const py::kwargs& kwargs) {
             LoadConfig c;
             applyKwargs(c, kwargs, "AsyncClient");
             if (codec) c.codec = codec->codec;
             auto client = AsyncClient::create(std::move(c));
             if (!client.ok()) raise(client.error());
             return std::move(client.value());
           }),
           py::arg("codec") = nullptr)
      .def(
          "option_values", [](const AsyncClient& c) { return valuesDict(valuesOf(c.config())); },
          "Every option as the client holds it.")
      .def_property_readonly("notify_fd", &AsyncClient::notifyFd)
      .def("open_connection", &AsyncClient::openConnection)
      .def("close_connection", &AsyncClient::closeConnection, py::arg("conn"))
      .def(
          "submit",
          [](AsyncClient& c, uint64_t conn, uint64_t ticket, std::optional<std::string> line,
             std::optional<std::string> expect) {
            return c.submit(conn, ticket, std::move(line), std::move(expect));
          },
          py::arg("conn"), py::arg("ticket"), py::arg("line") = std::nullopt,
          py::arg("expect") = std::nullopt)
      .def(
          "submit_http",
          [](AsyncClient& c, uint64_t conn, uint64_t ticket, py::bytes request, bool head) {
            return c.submitHttp(conn, ticket, std::string(request), head);
          },
          py::arg("conn"), py::arg("ticket"), py::arg("request"), py::arg("head") = false)
      .def("drain", &AsyncClient::drain, "The completions queued since the last call.")
      .def("shutdown", &AsyncClient::shutdown, py::call_guard<py::gil_scoped_release>());
}

}  // namespace netlab::py_bindings
