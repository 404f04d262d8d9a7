// The blocking line client behind netlab.ChatClient.
#include <pybind11/pybind11.h>

#include "netlab/bindings/errors.h"
#include "netlab/bindings/options_py.h"
#include "netlab/client/line_client.h"

namespace py = pybind11;

namespace netlab::py_bindings {

void registerClient(py::module_& m) {
  m.def(
      "line_client_options", [] { return describeOptions(describe<LineClientOptions>()); },
      "Every LineClient option: name, type, default, range, unit and help.");
  py::class_<LineClient>(m, "LineClient")
      .def(py::init([](const py::kwargs& kwargs) {
        LineClientOptions options;
        applyKwargs(options, kwargs, "LineClient");
        Result<std::unique_ptr<LineClient>> client = [&] {
          py::gil_scoped_release release;
          return LineClient::connect(options);
        }();
        if (!client.ok()) raise(client.error());
        return std::move(client.value());
      }))
      .def(
          "send",
          [](LineClient& c, const std::string& line) {
            Status s;
            {
              py::gil_scoped_release release;
              s = c.send(line);
            }
            check(s);
          },
          py::arg("line"))
      // Returns the line as bytes, None once the server has closed; raises TimeoutError.
      .def(
          "recv",
          [](LineClient& c, double timeout) -> py::object {
            std::string line;
            LineClient::Recv r;
            {
              py::gil_scoped_release release;
              r = c.recv(timeout, line);
            }
            if (r == LineClient::Recv::kTimeout) {
              PyErr_SetString(PyExc_TimeoutError, "no line within the timeout");
              throw py::error_already_set();
            }
            if (r == LineClient::Recv::kClosed) return py::none();
            return py::bytes(line);
          },
          py::arg("timeout"))
      .def("close_reason", &LineClient::closeReason)
      .def("close", &LineClient::close, py::call_guard<py::gil_scoped_release>());
}

}  // namespace netlab::py_bindings
