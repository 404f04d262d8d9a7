#include "netlab/bindings/options_py.h"

#include <pybind11/stl.h>

#include <type_traits>
#include <variant>

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

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
    case OptionType::kBytes:
      return "bytes";
  }
  return "?";
}

// Python's own types only: bool before int (a bool is an int in Python).
OptionValue fromPython(const std::string& name, py::handle h) {
  if (h.is_none()) return std::monostate{};
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) return h.cast<int64_t>();
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (py::isinstance<py::bytes>(h)) return Bytes{h.cast<std::string>()};
  throw py::type_error("option " + name + " cannot be a " +
                       std::string(py::str(py::type::handle_of(h).attr("__name__"))));
}

}  // namespace

py::object toPython(const OptionValue& v) {
  return std::visit(
      [](const auto& x) -> py::object {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return py::none();
        } else if constexpr (std::is_same_v<T, Bytes>) {
          return py::bytes(x.value);
        } else {
          return py::cast(x);
        }
      },
      v);
}

OptionMap optionMap(const py::kwargs& kwargs) {
  OptionMap values;
  for (const auto& item : kwargs) {
    std::string name = py::str(item.first);
    values[name] = fromPython(name, item.second);
  }
  return values;
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
    d["note"] = o.note;
    d["none_allowed"] = o.noneAllowed;
    d["required"] = o.required;
    d["choices"] = o.choices;
    out.append(d);
  }
  return out;
}

py::dict valuesDict(const OptionMap& values) {
  py::dict d;
  for (const auto& [name, value] : values) d[name.c_str()] = toPython(value);
  return d;
}

}  // namespace netlab::py_bindings
