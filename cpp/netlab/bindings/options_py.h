// Options across the binding edge: keyword arguments in, the engine's tables out.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "netlab/bindings/errors.h"
#include "netlab/core/options.h"

namespace netlab::py_bindings {

pybind11::object toPython(const OptionValue& value);

/// The keyword arguments as an OptionMap; TypeError for a value no option can hold.
OptionMap optionMap(const pybind11::kwargs& kwargs);

/// The rows Python sees: name, type, default, min, max, unit, help, none_allowed, required,
/// choices.
pybind11::list describeOptions(const std::vector<OptionInfo>& options);

pybind11::dict valuesDict(const OptionMap& values);

/// Sets `s` from keyword arguments: TypeError naming an option S lacks (`who` says whose),
/// ValueError for a value out of range.
template <class S>
void applyKwargs(S& s, const pybind11::kwargs& kwargs, const std::string& who) {
  OptionMap values = optionMap(kwargs);
  for (const auto& [name, value] : values) {
    if (!findField<S>(name)) throw pybind11::type_error(who + " has no option '" + name + "'");
  }
  check(applyValues(s, values));
}

}  // namespace netlab::py_bindings
