// The non-blocking client behind netlab.locust.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
#include "netlab/client/async_client.h"

namespace py = pybind11;

namespace netlab::py_bindings {

void registerAsync(py::module_& m) {
  py::class_<AsyncClient>(m, "AsyncClient")
      .def(py::init([](const std::string& host, int port, const std::string& scenario,
                       size_t size, std::optional<py::bytes> request,
                       std::optional<py::bytes> expect, const CodecHandle* codec,
                       double connectTimeout, double responseTimeout) {
             if (port < 1 || port > 65535) raise(Error{EINVAL, "port must be 1..65535"});
             LoadConfig c;
             c.host = host;
             c.port = static_cast<uint16_t>(port);
             c.scenario = scenario;
             c.size = size;
             if (request) c.request = std::string(*request);
             if (expect) c.expect = std::string(*expect);
             if (codec) c.codec = codec->codec;
             c.connectTimeoutSec = connectTimeout;
             c.responseTimeoutSec = responseTimeout;
             auto client = AsyncClient::create(std::move(c));
             if (!client.ok()) raise(client.error());
             return std::move(client.value());
           }),
           py::arg("host"), py::arg("port"), py::arg("scenario"), py::arg("size"),
           py::arg("request"), py::arg("expect"), py::arg("codec"), py::arg("connect_timeout"),
           py::arg("response_timeout"))
      .def_property_readonly("notify_fd", &AsyncClient::notifyFd)
      .def("open_connection", &AsyncClient::openConnection)
      .def("close_connection", &AsyncClient::closeConnection)
      .def("submit", [](AsyncClient& c, uint64_t conn, uint64_t ticket,
                        std::optional<std::string> line, std::optional<std::string> expect) {
             return c.submit(conn, ticket, std::move(line), std::move(expect));
           },
           py::arg("conn"), py::arg("ticket"), py::arg("line") = std::nullopt,
           py::arg("expect") = std::nullopt)
      // [(ticket, ok, latency_ns, bytes, error_kind, message)]
      .def("drain", [](AsyncClient& c) {
        std::vector<AsyncClient::Completion> done = c.drain();
        py::list out(done.size());
        for (size_t i = 0; i < done.size(); ++i) {
          const auto& d = done[i];
          out[i] = py::make_tuple(d.ticket, d.ok, d.latencyNs, d.bytes,
                                  d.ok ? "" : loadErrorName(d.kind), d.message);
        }
        return out;
      })
      .def("shutdown", &AsyncClient::shutdown, py::call_guard<py::gil_scoped_release>());
}

}  // namespace netlab::py_bindings
