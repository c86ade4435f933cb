#include "zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <sstream>

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
  Bytes(const std::vector<char>& bytes, const std::string& path, const std::string& what)
      : bytes_(bytes), path_(path), what_(what) {}

  uint64_t read(std::size_t at, std::size_t width, const char* what) const {
    if (at > bytes_.size() || bytes_.size() - at < width) {
      throw Error(what_ + " '" + path_ + "' is truncated or damaged: its " + what + " lies beyond its " +
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
    throw Error(what_ + " '" + path_ + "' is truncated or damaged: " + what);
  }

 private:
  const std::vector<char>& bytes_;
  const std::string& path_;
  const std::string& what_;
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

}  // namespace

void verify_archive(const std::vector<char>& file, const std::string& path, const std::string& what) {
  const Bytes bytes(file, path, what);
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
      throw Error(what + " '" + path + "' is damaged: record '" + record.name + "' fails its CRC-32 check (written as " +
                  hex(record.crc) + ", now " + hex(static_cast<uint32_t>(crc)) +
                  "): the file changed after it was written (a disk or copy error, or an edit); it is not loaded");
    }
  }
}

}  // namespace fulgur::detail
