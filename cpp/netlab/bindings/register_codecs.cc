// netlab.codecs: the C++ codecs and their streaming decoders, as Python objects.
#include <pybind11/pybind11.h>

#include <chrono>
#include <string>
#include <vector>

#include "netlab/bindings/codec_handle.h"
#include "netlab/bindings/errors.h"
#include "netlab/codec/stream_decoder.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

std::string_view bytesView(const py::buffer& data, py::buffer_info& info) {
  info = data.request();
  if (info.ndim > 1 || (info.ndim == 1 && info.strides[0] != info.itemsize)) {
    raise(Error{EINVAL, "expected a contiguous bytes-like object"});
  }
  return {static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize)};
}

// Made once by registerCodecs and owned by the module (which never unloads); plain handles
// because a static py::object would be released after the interpreter is gone.
py::handle frameTooLarge, malformedFrame, frameType;

[[noreturn]] void raiseFrameError(const FrameError& e, const std::string& prefix, py::list frames) {
  py::handle type = e.kind == FrameErrorKind::kTooLarge ? frameTooLarge : malformedFrame;
  std::string message =
      prefix.empty() || prefix.back() != ':'
          ? prefix + "at stream offset " + std::to_string(e.offset) + ": " + e.message
          : prefix + " " + e.message;
  py::object exc = type(message, e.offset, frames);
  PyErr_SetObject(type.ptr(), exc.ptr());
  throw py::error_already_set();
}

py::bytes encodeFrame(const CodecHandle& h, const FrameView& frame) {
  std::string out;
  FrameError error;
  if (!h.codec->encode(frame, out, error)) raiseFrameError(error, "cannot encode:", py::list());
  return py::bytes(out);
}

/// A decoder as Python sees it: feed() returns the frames as bytes, or as Frame tuples for
/// HeaderCodec, and raises the codec's FrameError subclass once the stream is malformed.
struct PyDecoder {
  explicit PyDecoder(const CodecHandle& h) : decoder(h.codec), headerFrames(h.headerFrames) {}

  py::list feed(const py::buffer& data) {
    py::buffer_info info;
    std::string_view chunk = bytesView(data, info);
    if (decoder.failed()) raiseFrameError(decoder.error(), "decoder failed earlier, ", py::list());
    // Objects are made with the raw C API and the list is built at its final size: with
    // 64-byte frames the per-object overhead is the whole cost of this call.
    items.clear();
    bool outOfMemory = false;
    bool ok = decoder.feed(chunk, [&](const FrameView& f) {
      if (outOfMemory) return;
      PyObject* payload = PyBytes_FromStringAndSize(f.payload.data(), f.payload.size());
      if (payload != nullptr && headerFrames) {
        py::object steal = py::reinterpret_steal<py::object>(payload);
        payload = frameType(f.version, f.command, f.sequence, steal).release().ptr();
      }
      if (payload == nullptr) {
        outOfMemory = true;
        return;
      }
      items.push_back(payload);
    });
    py::list frames = takeItems();
    if (outOfMemory) throw py::error_already_set();
    if (!ok) raiseFrameError(decoder.error(), "", frames);
    return frames;
  }

  // Moves the collected references into a new list of exactly their number.
  py::list takeItems() {
    py::list frames(items.size());
    for (size_t i = 0; i < items.size(); ++i) PyList_SET_ITEM(frames.ptr(), i, items[i]);
    items.clear();
    return frames;
  }

  StreamDecoder decoder;
  bool headerFrames;
  std::vector<PyObject*> items;  // owned references between decoding and the list
};

template <typename Make>
CodecHandle build(Make&& make, bool headerFrames = false) {
  Error error;
  std::shared_ptr<const Codec> codec = make(&error);
  if (!codec) raise(error);
  return CodecHandle{std::move(codec), headerFrames};
}

// For benchmarks/: the C++ decoder alone over `data` in `chunk`-sized pieces, GIL released.
py::tuple decodeOnly(const CodecHandle& h, const py::bytes& data, size_t chunk) {
  std::string copy = data;
  if (chunk == 0) raise(Error{EINVAL, "chunk must be at least 1"});
  size_t frames = 0, payloadBytes = 0;
  double seconds = 0;
  {
    py::gil_scoped_release release;
    StreamDecoder decoder(h.codec);
    auto start = std::chrono::steady_clock::now();
    for (size_t at = 0; at < copy.size(); at += chunk) {
      std::string_view piece(copy.data() + at, std::min(chunk, copy.size() - at));
      decoder.feed(piece, [&](const FrameView& f) {
        ++frames;
        payloadBytes += f.payload.size();
      });
    }
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return py::make_tuple(frames, payloadBytes, seconds);
}

// An exception class in this module that Python code can raise and catch as its own; shown
// as netlab.codecs.<name>, where users import it.
py::handle newException(py::module_& m, const char* name, py::handle base, const char* doc) {
  std::string qualified = std::string("netlab.codecs.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, type);
  return type;  // the module holds a reference; ours is never released
}

void registerFrameTypes(py::module_& m) {
  py::handle frameError = newException(
      m, "FrameError", PyExc_ValueError,
      "The byte stream (or a payload to encode) breaks the codec's rules.\n\n"
      "Attributes:\n"
      "    offset: stream offset of the bad frame (0 for an encoding error).\n"
      "    frames: frames decoded from the same feed() before the error, so none are lost.");
  py::object cls = py::reinterpret_borrow<py::object>(frameError);
  cls.attr("__init__") = py::cpp_function(
      [](py::object self, py::object message, uint64_t offset, py::object frames) {
        py::handle(PyExc_ValueError).attr("__init__")(self, message);
        self.attr("offset") = offset;
        self.attr("frames") = frames.is_none() ? py::list() : py::list(frames);
      },
      py::is_method(cls), py::arg("message"), py::arg("offset") = 0,
      py::arg("frames") = py::none());
  frameTooLarge = newException(m, "FrameTooLarge", frameError,
                               "A frame (or line) is longer than the codec's configured maximum.");
  malformedFrame =
      newException(m, "MalformedFrame", frameError,
                   "A frame's header is invalid, e.g. an unexpected protocol version.");
  py::object namedtuple = py::module_::import("collections").attr("namedtuple");
  py::object frame =
      namedtuple("Frame", py::make_tuple("version", "command", "sequence", "payload"),
                 py::arg("module") = "netlab.codecs");
  frame.attr("__doc__") = "One HeaderCodec message.";
  m.add_object("Frame", frame);
  frameType = frame.release();
}

}  // namespace

void registerCodecs(py::module_& m) {
  registerFrameTypes(m);
  py::class_<CodecHandle>(m, "Codec")
      .def_property_readonly("name",
                             [](const CodecHandle& h) { return std::string(h.codec->name()); })
      .def_property_readonly("max_wire_frame",
                             [](const CodecHandle& h) { return h.codec->maxWireFrame(); })
      .def(
          "encode",
          [](const CodecHandle& h, const py::buffer& payload) {
            py::buffer_info info;
            return encodeFrame(h, FrameView{bytesView(payload, info)});
          },
          py::arg("payload"))
      .def("decoder", [](const CodecHandle& h) { return PyDecoder(h); })
      .def("__repr__", [](const CodecHandle& h) { return h.codec->describe(); });

  py::class_<LineCodecHandle, CodecHandle>(m, "LineCodec")
      .def(py::init([](const py::bytes& delimiter, size_t maxLength, bool stripCr) {
             return LineCodecHandle{build([&](Error* e) {
               return makeLineCodec(std::string(delimiter), maxLength, stripCr, e);
             })};
           }),
           py::arg("delimiter") = py::bytes("\n"), py::arg("max_length") = 65536,
           py::arg("strip_cr") = true);

  py::class_<LengthPrefixCodecHandle, CodecHandle>(m, "LengthPrefixCodec")
      .def(py::init([](int headerBytes, const std::string& byteorder, uint64_t maxFrame) {
             if (byteorder != "big" && byteorder != "little") {
               raise(Error{EINVAL, "byteorder must be 'big' or 'little'"});
             }
             return LengthPrefixCodecHandle{build([&](Error* e) {
               return makeLengthPrefixCodec(headerBytes, byteorder == "big", maxFrame, e);
             })};
           }),
           py::arg("header_bytes") = 4, py::arg("byteorder") = "big",
           py::arg("max_frame") = 1 << 20);

  py::class_<FixedCodecHandle, CodecHandle>(m, "FixedCodec")
      .def(py::init([](size_t size) {
             return FixedCodecHandle{build([&](Error* e) { return makeFixedCodec(size, e); })};
           }),
           py::arg("size"));

  py::class_<HeaderCodecHandle, CodecHandle>(m, "HeaderCodec")
      .def(py::init([](int version, size_t maxPayload) {
             if (version < 0 || version > 255) raise(Error{EINVAL, "version must be 0..255"});
             return HeaderCodecHandle{build(
                 [&](Error* e) {
                   return makeHeaderCodec(static_cast<uint8_t>(version), maxPayload, e);
                 },
                 true)};
           }),
           py::arg("version") = 1, py::arg("max_payload") = 65535)
      .def(
          "encode",
          [](const HeaderCodecHandle& h, const py::buffer& payload, int command,
             uint32_t sequence) {
            if (command < 0 || command > 255) raise(Error{EINVAL, "command must be 0..255"});
            py::buffer_info info;
            FrameView f{bytesView(payload, info), 0, static_cast<uint8_t>(command), sequence};
            return encodeFrame(h, f);
          },
          py::arg("payload"), py::arg("command") = 1, py::arg("sequence") = 0);

  py::class_<PyDecoder>(m, "Decoder")
      .def("feed", &PyDecoder::feed, py::arg("chunk"))
      .def_property_readonly("pending", [](const PyDecoder& d) { return d.decoder.pending(); })
      .def_property_readonly("failed", [](const PyDecoder& d) { return d.decoder.failed(); })
      .def_property_readonly("offset", [](const PyDecoder& d) { return d.decoder.offset(); });

  m.def("_decode_only", &decodeOnly, py::arg("codec"), py::arg("data"), py::arg("chunk"));
}

}  // namespace netlab::py_bindings
