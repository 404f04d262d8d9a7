// Every app netlab serves, in one list: its name, its options' table, and how to build it.
// The Python server classes, the CLI's `serve` subcommands and the locustfile's NETLAB_SERVE
// all read this list, so adding an app is its folder in apps/ and one entry here.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "netlab/codec/codec.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"
#include "netlab/io/result.h"
#include "netlab/models/server.h"

namespace netlab {

struct AppSpec {
  std::string name;
  std::string summary;
  std::vector<OptionInfo> options;  // the app's own, beside every server's
  /// Takes a codec (netlab.codecs) beside its options: echo frame by frame, chat's binary mode.
  bool takesCodec = false;
  /// The load generator scenario that speaks it, for `bench` and the locustfile.
  std::string scenario;
  /// Builds the protocol from the app's options by name (validated here), and the codec.
  std::function<Result<std::shared_ptr<Protocol>>(const OptionMap&, std::shared_ptr<const Codec>)>
      make;
};

const std::vector<AppSpec>& apps();
/// The app called `name`, or null.
const AppSpec* findApp(std::string_view name);

/// Names in `values` that are neither a server option nor one of the app's.
std::vector<std::string> unknownOptions(const AppSpec& app, const OptionMap& values);

/// Builds (does not start) `app`'s server from options by name: the server's and the app's
/// together, each validated by its table. Names must have passed unknownOptions().
Result<std::unique_ptr<Server>> makeAppServer(const AppSpec& app, const OptionMap& values,
                                              std::shared_ptr<const Codec> codec);

}  // namespace netlab
