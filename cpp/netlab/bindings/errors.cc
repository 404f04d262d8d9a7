#include "netlab/bindings/errors.h"

#include <cerrno>

namespace py = pybind11;

namespace netlab::py_bindings {

void raise(const Error& error) {
  if (error.code == EINVAL) {
    PyErr_SetString(PyExc_ValueError, error.message.c_str());
  } else if (error.code == EALREADY) {  // a state error, not an OS one
    PyErr_SetString(PyExc_RuntimeError, error.message.c_str());
  } else {
    py::tuple args = py::make_tuple(error.code, error.message);
    PyErr_SetObject(PyExc_OSError, args.ptr());
  }
  throw py::error_already_set();
}

}  // namespace netlab::py_bindings
