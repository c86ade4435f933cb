// Files built byte by byte for the hostile-input tests: pickles opcode by opcode, zip archives
// record by record, safetensors headers as text. Each test makes exactly the one thing a crafted
// file would do, and a valid file made the same way shows the builders themselves are right.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fulgur::testing {

/// A protocol-2 pickle, as torch.save writes them; stop() returns the bytes.
class PickleBuilder {
 public:
  PickleBuilder();
  PickleBuilder& op(char opcode);                // any single opcode
  PickleBuilder& raw(const std::string& bytes);  // bytes as they are
  PickleBuilder& mark() { return op('('); }
  PickleBuilder& tuple() { return op('t'); }
  PickleBuilder& reduce() { return op('R'); }
  PickleBuilder& empty_dict() { return op('}'); }
  PickleBuilder& empty_list() { return op(']'); }
  PickleBuilder& setitems() { return op('u'); }
  PickleBuilder& appends() { return op('e'); }
  PickleBuilder& string(const std::string& text);  // BINUNICODE
  PickleBuilder& integer(int64_t value);           // BININT, or LONG1 beyond 32 bits
  PickleBuilder& global(const std::string& module, const std::string& name);
  PickleBuilder& put(uint32_t index);  // LONG_BINPUT
  PickleBuilder& get(uint32_t index);  // LONG_BINGET
  /// The opcodes torch.save writes for one float tensor over storage `key` of `numel` elements.
  PickleBuilder& tensor(const std::string& key, int64_t numel, const std::vector<int64_t>& sizes,
                        const std::vector<int64_t>& strides, int64_t offset = 0);
  std::string stop();

 private:
  std::string bytes_;
};

/// A zip archive, records in the order added.
class ZipBuilder {
 public:
  ZipBuilder& stored(const std::string& name, const std::string& bytes);
  /// A deflated record (zlib), as no torch.save writes one.
  ZipBuilder& deflated(const std::string& name, const std::string& bytes);
  std::string bytes() const;

 private:
  struct Record {
    std::string name;
    std::string data;  // as stored in the file
    uint16_t method;
    uint32_t crc;
    uint64_t original_size;
  };
  std::vector<Record> records_;
};

/// torch.save's layout: "archive/data.pkl" and "archive/data/<key>" for each storage.
std::string torch_archive(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages);

/// `count` floats 0, 1, 2, ... as a storage record's bytes.
std::string float_bytes(int64_t count);

/// A .safetensors file: the 8-byte length, `header` as given, then `data`.
std::string safetensors_file(const std::string& header, const std::string& data);

void write_bytes(const std::string& path, const std::string& bytes);

/// Every record of a zip archive (e.g. a checkpoint fulgur wrote), in order, name -> bytes.
std::vector<std::pair<std::string, std::string>> zip_records(const std::string& path);

}  // namespace fulgur::testing
