#include "checkpoint_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>

#include "fulgur/error.h"

namespace fulgur::detail {
namespace {

// --- the zip container ------------------------------------------------------------------------

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64EndLocator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kCentralEntry = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;

// Little-endian reads that name the file when they would run past its end.
class Bytes {
 public:
  Bytes(const std::vector<char>& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  uint64_t read(std::size_t at, std::size_t width, const char* what) const {
    if (at > bytes_.size() || bytes_.size() - at < width) {
      throw Error("checkpoint '" + path_ + "' is truncated or damaged: its " + what + " lies beyond its " +
                  std::to_string(bytes_.size()) + " bytes");
    }
    uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes_[at + i])) << (8 * i);
    return value;
  }
  uint16_t u16(std::size_t at, const char* what) const { return static_cast<uint16_t>(read(at, 2, what)); }
  uint32_t u32(std::size_t at, const char* what) const { return static_cast<uint32_t>(read(at, 4, what)); }
  uint64_t u64(std::size_t at, const char* what) const { return read(at, 8, what); }
  std::string text(std::size_t at, std::size_t length, const char* what) const {
    read(at, length, what);
    return std::string(bytes_.data() + at, length);
  }
  const char* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  const std::string& path() const { return path_; }

  [[noreturn]] void damaged(const std::string& what) const {
    throw Error("checkpoint '" + path_ + "' is truncated or damaged: " + what);
  }

 private:
  const std::vector<char>& bytes_;
  const std::string& path_;
};

struct Record {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t stored_size = 0;
  uint64_t data_offset = 0;
};

std::size_t find_end_record(const Bytes& bytes) {
  constexpr std::size_t kFixed = 22;
  if (bytes.size() < kFixed) bytes.damaged("it is too short to be a zip archive");
  const std::size_t lowest = bytes.size() > kFixed + 65535 ? bytes.size() - kFixed - 65535 : 0;
  for (std::size_t at = bytes.size() - kFixed + 1; at-- > lowest;) {
    if (bytes.u32(at, "end record") == kEndOfCentralDirectory) return at;
  }
  bytes.damaged("it has no zip end record (a checkpoint cut short, or not a checkpoint at all)");
}

std::vector<Record> read_records(const Bytes& bytes) {
  const std::size_t end = find_end_record(bytes);
  uint64_t entries = bytes.u16(end + 10, "end record");
  uint64_t directory = bytes.u32(end + 16, "end record");
  if (entries == 0xFFFF || directory == 0xFFFFFFFF) {  // zip64: the real numbers are elsewhere
    if (end < 20 || bytes.u32(end - 20, "zip64 locator") != kZip64EndLocator) bytes.damaged("its zip64 locator is missing");
    const uint64_t end64 = bytes.u64(end - 20 + 8, "zip64 locator");
    if (bytes.u32(end64, "zip64 end record") != kZip64End) bytes.damaged("its zip64 end record is missing");
    entries = bytes.u64(end64 + 32, "zip64 end record");
    directory = bytes.u64(end64 + 48, "zip64 end record");
  }
  std::vector<Record> records;
  std::size_t at = directory;
  for (uint64_t i = 0; i < entries; ++i) {
    if (bytes.u32(at, "central directory") != kCentralEntry) {
      bytes.damaged("entry " + std::to_string(i) + " of its central directory is not where the end record says");
    }
    Record record;
    record.method = bytes.u16(at + 10, "central directory");
    record.crc = bytes.u32(at + 16, "central directory");
    uint64_t stored = bytes.u32(at + 20, "central directory");
    uint64_t original = bytes.u32(at + 24, "central directory");
    const uint16_t name_length = bytes.u16(at + 28, "central directory");
    const uint16_t extra_length = bytes.u16(at + 30, "central directory");
    const uint16_t comment_length = bytes.u16(at + 32, "central directory");
    uint64_t local = bytes.u32(at + 42, "central directory");
    record.name = bytes.text(at + 46, name_length, "central directory");
    // zip64 sizes and offsets live in extra field 0x0001, in this order, each only if saturated.
    for (std::size_t extra = at + 46 + name_length; extra + 4 <= at + 46 + name_length + extra_length;) {
      const uint16_t id = bytes.u16(extra, "extra field");
      const uint16_t length = bytes.u16(extra + 2, "extra field");
      if (id == 0x0001) {
        std::size_t field = extra + 4;
        if (original == 0xFFFFFFFF) original = bytes.u64(field, "zip64 field"), field += 8;
        if (stored == 0xFFFFFFFF) stored = bytes.u64(field, "zip64 field"), field += 8;
        if (local == 0xFFFFFFFF) local = bytes.u64(field, "zip64 field");
      }
      extra += 4 + length;
    }
    record.stored_size = stored;
    if (bytes.u32(local, "local header") != kLocalHeader) {
      bytes.damaged("record '" + record.name + "' has no local header where the directory says");
    }
    record.data_offset = local + 30 + bytes.u16(local + 26, "local header") + bytes.u16(local + 28, "local header");
    if (record.data_offset > bytes.size() || bytes.size() - record.data_offset < record.stored_size) {
      bytes.damaged("record '" + record.name + "' runs past the end of the file");
    }
    records.push_back(std::move(record));
    at += 46 + name_length + extra_length + comment_length;
  }
  return records;
}

std::string hex(uint32_t value) {
  std::ostringstream text;
  text << "0x" << std::hex << value;
  return text.str();
}

// --- the pickle ---------------------------------------------------------------------------------

// A walk over the pickle's opcodes that tracks, for each item on the unpickler's stack, the byte
// where the opcodes that built it begin: enough to put a MARK in front of a SETITEM's key or an
// APPEND's value. Only the opcodes of protocols 0-3 that torch.save writes are known; anything
// else (frames of protocol 4, DUP, INST, ...) ends the walk without a rewrite.
class SingleItemRewriter {
 public:
  explicit SingleItemRewriter(const std::string& pickle) : in_(pickle) {}

  std::optional<std::string> run() {
    while (pos_ < in_.size()) {
      const std::size_t start = pos_;
      const auto op = static_cast<unsigned char>(in_[pos_++]);
      switch (op) {
        case 0x80: skip(1); break;                                   // PROTO
        case '.': return inserts_.empty() ? std::nullopt : std::optional<std::string>(output());  // STOP
        case '(': stack_.push_back({start, true}); break;            // MARK
        case '}': case ']': case ')': case 'N': case 0x88: case 0x89:  // empty containers, None, bools
          push(start); break;
        case 'J': skip(4); push(start); break;                       // BININT
        case 'K': skip(1); push(start); break;                       // BININT1
        case 'M': skip(2); push(start); break;                       // BININT2
        case 'G': skip(8); push(start); break;                       // BINFLOAT
        case 0x8a: skip(length(1)); push(start); break;              // LONG1
        case 0x8b: skip(length(4)); push(start); break;              // LONG4
        case 'X': case 'T': case 'B': skip(length(4)); push(start); break;     // BINUNICODE, BINSTRING, BINBYTES
        case 0x8c: case 'U': case 'C': skip(length(1)); push(start); break;    // short forms
        case 0x8d: case 0x8e: case 0x96: skip(length(8)); push(start); break;  // 8-byte-length forms
        case 'c': line(); line(); push(start); break;                // GLOBAL module\nname\n
        case 'I': case 'L': case 'F': case 'S': case 'V': case 'P': line(); push(start); break;  // text forms
        case 'g': line(); push(start); break;                        // GET
        case 'p': line(); break;                                     // PUT
        case 'q': skip(1); break;                                    // BINPUT
        case 'r': skip(4); break;                                    // LONG_BINPUT
        case 0x94: break;                                            // MEMOIZE
        case 'h': skip(1); push(start); break;                       // BINGET
        case 'j': skip(4); push(start); break;                       // LONG_BINGET
        case 0x82: skip(1); push(start); break;                      // EXT1
        case 0x83: skip(2); push(start); break;                      // EXT2
        case 0x84: skip(4); push(start); break;                      // EXT4
        case 'Q': combine(1); break;                                 // BINPERSID
        case 0x85: combine(1); break;                                // TUPLE1
        case 0x86: case 'R': case 0x81: case 0x93: combine(2); break;  // TUPLE2, REDUCE, NEWOBJ, STACK_GLOBAL
        case 0x87: case 0x92: combine(3); break;                     // TUPLE3, NEWOBJ_EX
        case 'b': pop(1); break;                                     // BUILD: the object stays
        case 't': case 'l': case 'd': case 0x91: to_mark(true); break;  // TUPLE, LIST, DICT, FROZENSET
        case 'u': case 'e': case 0x90: to_mark(false); break;        // SETITEMS, APPENDS, ADDITEMS
        case '1': to_mark(false); stack_.pop_back(); break;          // POP_MARK (the mark goes too)
        case '0': pop(1); break;                                     // POP
        case 's': mark_before(2, start, 'u'); pop(2); break;         // SETITEM -> MARK key value SETITEMS
        case 'a': mark_before(1, start, 'e'); pop(1); break;         // APPEND  -> MARK value APPENDS
        default: return std::nullopt;                                // unknown to this walk
      }
      if (failed_) return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  struct Item {
    std::size_t start;
    bool mark;
  };

  void skip(std::size_t count) {
    if (in_.size() - pos_ < count) failed_ = true;
    pos_ = std::min(in_.size(), pos_ + count);
  }
  std::size_t length(std::size_t width) {
    if (in_.size() - pos_ < width) {
      failed_ = true;
      return 0;
    }
    uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += width;
    return static_cast<std::size_t>(value);
  }
  void line() {
    const auto end = in_.find('\n', pos_);
    if (end == std::string::npos) failed_ = true;
    pos_ = end == std::string::npos ? in_.size() : end + 1;
  }
  void push(std::size_t start) { stack_.push_back({start, false}); }
  void pop(std::size_t count) {
    if (stack_.size() < count) {
      failed_ = true;
      return;
    }
    stack_.resize(stack_.size() - count);
  }
  // Pops `count` items and pushes one built from them: it begins where the first of them began.
  void combine(std::size_t count) {
    if (stack_.size() < count) {
      failed_ = true;
      return;
    }
    const std::size_t start = stack_[stack_.size() - count].start;
    pop(count);
    push(start);
  }
  void to_mark(bool push_result) {
    while (!stack_.empty() && !stack_.back().mark) stack_.pop_back();
    if (stack_.empty()) {
      failed_ = true;
      return;
    }
    const std::size_t start = stack_.back().start;
    stack_.pop_back();
    if (push_result) push(start);
  }
  void mark_before(std::size_t depth, std::size_t op_position, char replacement) {
    if (stack_.size() < depth + 1 || stack_[stack_.size() - depth].mark) {
      failed_ = true;
      return;
    }
    inserts_.push_back({stack_[stack_.size() - depth].start, op_position, replacement});
  }

  std::string output() const {
    // Inserts are recorded in the order of their opcodes; their MARK positions may nest, so
    // apply them sorted by position, MARKs before the opcode they precede.
    std::vector<std::pair<std::size_t, int>> edits;  // (position, index), index < 0: a MARK
    for (std::size_t i = 0; i < inserts_.size(); ++i) {
      edits.push_back({inserts_[i].mark_at, -1});
      edits.push_back({inserts_[i].op_at, static_cast<int>(i)});
    }
    std::stable_sort(edits.begin(), edits.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    out.reserve(in_.size() + inserts_.size());
    std::size_t copied = 0;
    for (const auto& [position, index] : edits) {
      out.append(in_, copied, position - copied);
      copied = position;
      if (index < 0) {
        out.push_back('(');
      } else {
        out.push_back(inserts_[static_cast<std::size_t>(index)].replacement);
        copied = position + 1;
      }
    }
    out.append(in_, copied, std::string::npos);
    return out;
  }

  struct Insert {
    std::size_t mark_at;
    std::size_t op_at;
    char replacement;
  };

  const std::string& in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  std::vector<Item> stack_;
  std::vector<Insert> inserts_;
};

}  // namespace

void verify_checkpoint_archive(const std::vector<char>& file, const std::string& path) {
  const Bytes bytes(file, path);
  for (const auto& record : read_records(bytes)) {
    if (record.method != 0) continue;  // compressed records are checked by their own inflater
    uLong crc = crc32(0L, Z_NULL, 0);
    std::size_t done = 0;
    while (done < record.stored_size) {  // crc32 takes a 32-bit length
      const auto chunk = static_cast<uInt>(std::min<uint64_t>(record.stored_size - done, 1u << 30));
      crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + record.data_offset + done), chunk);
      done += chunk;
    }
    if (static_cast<uint32_t>(crc) != record.crc) {
      throw Error("checkpoint '" + path + "' is damaged: record '" + record.name + "' fails its CRC-32 check (written as " +
                  hex(record.crc) + ", now " + hex(static_cast<uint32_t>(crc)) +
                  "): the file changed after it was written (a disk or copy error, or an edit); it is not loaded");
    }
  }
}

std::optional<std::vector<char>> rewrite_single_item_opcodes(const std::vector<char>& bytes) {
  using caffe2::serialize::MemoryReadAdapter;
  using caffe2::serialize::PyTorchStreamReader;
  using caffe2::serialize::PyTorchStreamWriter;
  PyTorchStreamReader reader(std::make_shared<MemoryReadAdapter>(bytes.data(), bytes.size()));
  if (!reader.hasRecord("data.pkl")) return std::nullopt;
  const auto [pickle_data, pickle_size] = reader.getRecord("data.pkl");
  const std::string pickle(static_cast<const char*>(pickle_data.get()), pickle_size);
  const auto rewritten = SingleItemRewriter(pickle).run();
  if (!rewritten) return std::nullopt;

  std::vector<char> out;
  {
    PyTorchStreamWriter writer([&out](const void* data, std::size_t size) {
      out.insert(out.end(), static_cast<const char*>(data), static_cast<const char*>(data) + size);
      return size;
    });
    writer.setMinVersion(reader.version());
    for (const auto& name : reader.getAllRecords()) {
      // The writer adds its own version and bookkeeping records.
      if (name == "version" || name == ".data/version" || name == "byteorder" || name == ".data/serialization_id") continue;
      if (name == "data.pkl") {
        writer.writeRecord(name, rewritten->data(), rewritten->size());
        continue;
      }
      const auto [data, size] = reader.getRecord(name);
      writer.writeRecord(name, data.get(), size);
    }
    writer.writeEndOfFile();
  }
  return out;
}

}  // namespace fulgur::detail
