// The http load scenario: requests written once per target (method, path, header lines,
// body) and responses judged by their framing with netlab's own HTTP parser, so a server
// that frames a response wrongly shows as errors and every status is counted.
#pragma once

#include <memory>

#include "netlab/io/result.h"
#include "netlab/load/load_config.h"
#include "netlab/load/scenario.h"

namespace netlab {

/// Checks the http options: a method that is a token, targets that are origin-form or
/// absolute, header lines of the form "Name: value".
Status validateHttp(const LoadConfig& config);
std::unique_ptr<Scenario> makeHttpScenario(const LoadConfig& config);

}  // namespace netlab
