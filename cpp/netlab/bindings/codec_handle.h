// Python-side owners of a C++ codec. The subclasses exist so Python sees LineCodec etc. as
// distinct types; all state is the shared, immutable Codec.
#pragma once

#include <memory>

#include "netlab/codec/codec.h"

namespace netlab::py_bindings {

struct CodecHandle {
  std::shared_ptr<const Codec> codec;
  bool headerFrames = false;  // decode to Frame(version, command, sequence, payload)
};
struct LineCodecHandle : CodecHandle {};
struct LengthPrefixCodecHandle : CodecHandle {};
struct FixedCodecHandle : CodecHandle {};
struct HeaderCodecHandle : CodecHandle {};

}  // namespace netlab::py_bindings
