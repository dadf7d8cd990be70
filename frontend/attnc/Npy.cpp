//===- Npy.cpp - Read and write NumPy .npy files ------------------------------===//
//
// Layout: "\x93NUMPY", major, minor, the header length (uint16 LE for 1.0, uint32 LE for 2.0
// and 3.0), the header, the data. The header is the repr of a dict such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a newline; it is parsed as a small Python literal (strings in either
// quote, True/False, tuples of ints), with every size checked against the file before anything
// is allocated.
//
//===----------------------------------------------------------------------===//
#include "Npy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>

using namespace llvm;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

/// `text` with non-printable bytes escaped (\xx), for messages quoting a header.
std::string escaped(StringRef text) {
  std::string out;
  raw_string_ostream os(out);
  printEscapedString(text, os);
  return out;
}

Error makeError(StringRef name, const Twine &message) {
  return createStringError(inconvertibleErrorCode(), name + ": " + message);
}

/// The fields of a .npy header.
struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortranOrder;
  std::optional<std::vector<int64_t>> shape;
};

/// A recursive-descent parser of the header dict. Returns an empty string on success, else what
/// is wrong.
class HeaderParser {
public:
  explicit HeaderParser(StringRef text) : text(text) {}

  std::string parse(Header &header) {
    skipSpace();
    if (!consume('{'))
      return "the header is not a dict";
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key))
        return "expected a quoted key in the header";
      skipSpace();
      if (!consume(':'))
        return "expected ':' after '" + escaped(key) + "' in the header";
      skipSpace();
      std::string error;
      if (key == "descr") {
        std::string descr;
        if (peek() == '[')
          return "structured dtypes are not supported";
        if (!parseString(descr))
          return "'descr' must be a string";
        error = set(header.descr, descr, key);
      } else if (key == "fortran_order") {
        std::optional<bool> value = parseBool();
        if (!value)
          return "'fortran_order' must be True or False";
        error = set(header.fortranOrder, *value, key);
      } else if (key == "shape") {
        std::vector<int64_t> shape;
        if (std::string tupleError = parseShape(shape); !tupleError.empty())
          return tupleError;
        error = set(header.shape, shape, key);
      } else {
        return "unexpected key '" + escaped(key) + "' in the header";
      }
      if (!error.empty())
        return error;
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume('}'))
        break;
      return "expected ',' or '}' in the header";
    }
    skipSpace();
    if (pos != text.size())
      return "unexpected text after the header dict";
    if (!header.descr || !header.fortranOrder || !header.shape)
      return "the header lacks one of 'descr', 'fortran_order' and 'shape'";
    return "";
  }

private:
  template <typename T> static std::string set(std::optional<T> &slot, T value, StringRef key) {
    if (slot)
      return ("the header gives '" + key + "' twice").str();
    slot = std::move(value);
    return "";
  }

  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }
  void skipSpace() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
      ++pos;
  }

  /// A string literal in single or double quotes, without escapes.
  bool parseString(std::string &out) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return false;
    size_t end = text.find(quote, pos + 1);
    if (end == StringRef::npos)
      return false;
    StringRef body = text.slice(pos + 1, end);
    if (body.contains('\\'))
      return false;
    out = body.str();
    pos = end + 1;
    return true;
  }

  std::optional<bool> parseBool() {
    for (auto [word, value] : {std::pair<StringRef, bool>{"True", true}, {"False", false}})
      if (text.substr(pos).starts_with(word)) {
        pos += word.size();
        return value;
      }
    return std::nullopt;
  }

  /// '(' [INT (',' INT)* [',']] ')'; an INT may carry Python 2's 'L' suffix.
  std::string parseShape(std::vector<int64_t> &shape) {
    if (!consume('('))
      return "'shape' must be a tuple";
    while (true) {
      skipSpace();
      if (consume(')'))
        return "";
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        return "'shape' must hold non-negative integers";
      int64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (MulOverflow<int64_t>(value, 10, value) ||
            AddOverflow<int64_t>(value, text[pos] - '0', value))
          return "a dimension of 'shape' is too large";
        ++pos;
      }
      consume('L');
      shape.push_back(value);
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume(')'))
        return "";
      return "expected ',' or ')' in 'shape'";
    }
  }

  StringRef text;
  size_t pos = 0;
};

/// An element type of the data.
struct DType {
  char kind = 0; // f i u b
  unsigned size = 0;
  endianness order = endianness::native;
};

std::optional<DType> parseDType(StringRef descr) {
  if (descr.size() < 3)
    return std::nullopt;
  DType type;
  switch (descr[0]) {
  case '<':
    type.order = endianness::little;
    break;
  case '>':
    type.order = endianness::big;
    break;
  case '|':
  case '=':
    break;
  default:
    return std::nullopt;
  }
  type.kind = descr[1];
  if (descr.drop_front(2).getAsInteger(10, type.size))
    return std::nullopt;
  bool ok = false;
  switch (type.kind) {
  case 'f':
    ok = type.size == 2 || type.size == 4 || type.size == 8;
    break;
  case 'i':
  case 'u':
    ok = type.size == 1 || type.size == 2 || type.size == 4 || type.size == 8;
    break;
  case 'b':
    ok = type.size == 1;
    break;
  }
  if (!ok)
    return std::nullopt;
  return type;
}

double halfToDouble(uint16_t bits) {
  int exponent = (bits >> 10) & 0x1f;
  int mantissa = bits & 0x3ff;
  double value;
  if (exponent == 0)
    value = std::ldexp(double(mantissa), -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(double(mantissa + 1024), exponent - 25);
  return (bits & 0x8000) ? -value : value;
}

double decodeElement(const uint8_t *p, const DType &type) {
  using support::endian::read;
  switch (type.kind) {
  case 'b':
    return *p != 0;
  case 'f':
    if (type.size == 2)
      return halfToDouble(read<uint16_t>(p, type.order));
    if (type.size == 4)
      return bit_cast<float>(read<uint32_t>(p, type.order));
    return bit_cast<double>(read<uint64_t>(p, type.order));
  case 'i':
    switch (type.size) {
    case 1:
      return int8_t(*p);
    case 2:
      return read<int16_t>(p, type.order);
    case 4:
      return read<int32_t>(p, type.order);
    default:
      return double(read<int64_t>(p, type.order));
    }
  default: // 'u'
    switch (type.size) {
    case 1:
      return *p;
    case 2:
      return read<uint16_t>(p, type.order);
    case 4:
      return read<uint32_t>(p, type.order);
    default:
      return double(read<uint64_t>(p, type.order));
    }
  }
}

} // namespace

std::string attnc::formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  raw_string_ostream os(text);
  interleaveComma(shape, os);
  os << "]";
  return text;
}

Expected<attnc::NpyArray> attnc::parseNpy(ArrayRef<uint8_t> bytes, StringRef name) {
  if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    return makeError(name, "not a .npy file (it does not start with \"\\x93NUMPY\")");
  unsigned major = bytes[kMagicSize], minor = bytes[kMagicSize + 1];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return makeError(name, "unsupported .npy format version " + Twine(major) + "." + Twine(minor) +
                               " (expected 1.0, 2.0 or 3.0)");
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t headerStart = kMagicSize + 2 + lengthBytes;
  if (bytes.size() < headerStart)
    return makeError(name, "truncated .npy header");
  uint64_t headerLength = major == 1 ? support::endian::read16le(bytes.data() + 8)
                                     : support::endian::read32le(bytes.data() + 8);
  if (headerLength > bytes.size() - headerStart)
    return makeError(name, "truncated .npy header (it announces " + Twine(headerLength) +
                               " bytes, the file has " + Twine(bytes.size() - headerStart) +
                               " after the preamble)");
  StringRef headerText(reinterpret_cast<const char *>(bytes.data() + headerStart), headerLength);

  Header header;
  if (std::string error = HeaderParser(headerText).parse(header); !error.empty())
    return makeError(name, "malformed .npy header: " + error);
  if (*header.fortranOrder)
    return makeError(name, "Fortran-order arrays are not supported; save a C-order array "
                           "(numpy.ascontiguousarray)");
  std::optional<DType> type = parseDType(*header.descr);
  if (!type)
    return makeError(name, "unsupported dtype '" + escaped(*header.descr) +
                               "' (expected f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 or b1)");

  int64_t count = 1;
  for (int64_t extent : *header.shape)
    if (MulOverflow<int64_t>(count, extent, count))
      return makeError(name, "the shape " + formatShape(*header.shape) + " is too large");
  uint64_t dataBytes = bytes.size() - headerStart - headerLength;
  int64_t wanted;
  if (MulOverflow<int64_t>(count, int64_t(type->size), wanted) || uint64_t(wanted) > dataBytes)
    return makeError(name, "truncated data: shape " + formatShape(*header.shape) + " of '" +
                               *header.descr + "' needs " + Twine(count) + " elements, the file " +
                               "holds " + Twine(dataBytes / type->size));
  if (uint64_t(wanted) != dataBytes)
    return makeError(name, Twine(dataBytes - wanted) + " bytes follow the data of shape " +
                               formatShape(*header.shape) + " (not a single .npy array?)");

  NpyArray array;
  array.descr = *header.descr;
  array.shape = std::move(*header.shape);
  array.isInteger = type->kind != 'f';
  array.values.resize(count);
  const uint8_t *data = bytes.data() + headerStart + headerLength;
  for (int64_t i = 0; i < count; ++i)
    array.values[i] = decodeElement(data + i * type->size, *type);
  return array;
}

Expected<attnc::NpyArray> attnc::readNpy(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (std::error_code ec = buffer.getError())
    return createStringError(ec, "cannot read '" + path + "': " + ec.message());
  return parseNpy(arrayRefFromStringRef((*buffer)->getBuffer()), path);
}

std::vector<uint8_t> attnc::encodeNpyFloat32(ArrayRef<int64_t> shape, ArrayRef<double> values) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (int64_t extent : shape)
    dict += std::to_string(extent) + (shape.size() == 1 ? "," : ", ");
  if (shape.size() > 1)
    dict.resize(dict.size() - 2);
  dict += "), }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes; end with a newline.
  // Version 1.0 stores the header length in 16 bits, 2.0 in 32.
  size_t preamble = 10;
  if (alignTo(preamble + dict.size() + 1, 64) - preamble > 65535)
    preamble = 12;
  size_t total = alignTo(preamble + dict.size() + 1, 64);
  dict.append(total - preamble - dict.size() - 1, ' ');
  dict += '\n';

  std::vector<uint8_t> out(kMagic, kMagic + kMagicSize);
  out.push_back(preamble == 10 ? 1 : 2);
  out.push_back(0);
  uint8_t length[4];
  support::endian::write32le(length, uint32_t(dict.size()));
  out.insert(out.end(), length, length + (preamble == 10 ? 2 : 4));
  out.insert(out.end(), dict.begin(), dict.end());
  size_t dataStart = out.size();
  out.resize(dataStart + values.size() * 4);
  for (auto [i, value] : enumerate(values))
    support::endian::write32le(&out[dataStart + i * 4], bit_cast<uint32_t>(float(value)));
  return out;
}

Error attnc::writeNpyFloat32(StringRef path, ArrayRef<int64_t> shape, ArrayRef<double> values) {
  std::vector<uint8_t> bytes = encodeNpyFloat32(shape, values);
  // writeToOutput writes a temporary file and renames it: no half-written output on error.
  return writeToOutput(path, [&](raw_ostream &os) {
    os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
    return Error::success();
  });
}
