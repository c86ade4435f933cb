#include "zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <set>
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
    for (std::size_t i = 0; i < width; ++i)
      value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes_[at + i])) << (8 * i);
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

std::size_t find_end_record(const Bytes& bytes) {
  constexpr std::size_t kFixed = 22;
  if (bytes.size() < kFixed) bytes.damaged("it is too short to be a zip archive");
  const std::size_t lowest = bytes.size() > kFixed + 65535 ? bytes.size() - kFixed - 65535 : 0;
  for (std::size_t at = bytes.size() - kFixed + 1; at-- > lowest;) {
    if (bytes.u32(at, "end record") == kEndOfCentralDirectory) return at;
  }
  bytes.damaged("it has no zip end record (a checkpoint cut short, or not a checkpoint at all)");
}

std::vector<ZipRecord> read_records(const Bytes& bytes) {
  const std::size_t end = find_end_record(bytes);
  uint64_t entries = bytes.u16(end + 10, "end record");
  uint64_t directory = bytes.u32(end + 16, "end record");
  if (entries == 0xFFFF || directory == 0xFFFFFFFF) {  // zip64: the real numbers are elsewhere
    if (end < 20 || bytes.u32(end - 20, "zip64 locator") != kZip64EndLocator)
      bytes.damaged("its zip64 locator is missing");
    const uint64_t end64 = bytes.u64(end - 20 + 8, "zip64 locator");
    if (bytes.u32(end64, "zip64 end record") != kZip64End) bytes.damaged("its zip64 end record is missing");
    entries = bytes.u64(end64 + 32, "zip64 end record");
    directory = bytes.u64(end64 + 48, "zip64 end record");
  }
  std::vector<ZipRecord> records;
  std::size_t at = directory;
  for (uint64_t i = 0; i < entries; ++i) {
    if (bytes.u32(at, "central directory") != kCentralEntry) {
      bytes.damaged("entry " + std::to_string(i) + " of its central directory is not where the end record says");
    }
    ZipRecord record;
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
    record.original_size = original;
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

std::string record_text(const std::vector<char>& file, const ZipRecord& record) {
  if (record.method == 0) return std::string(file.data() + record.data_offset, record.stored_size);
  // Deflated (raw, as zip stores it) into exactly the size the directory declares, which
  // verify_archive has bounded.
  std::string out(record.original_size, '\0');
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)
    throw Error("zlib cannot start inflating record '" + record.name + "'");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(file.data() + record.data_offset));
  stream.avail_in = static_cast<uInt>(record.stored_size);
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = inflate(&stream, Z_FINISH);
  const auto produced = stream.total_out;
  inflateEnd(&stream);
  if (result != Z_STREAM_END || produced != record.original_size) {
    throw Error("record '" + record.name + "' does not inflate to the " + std::to_string(record.original_size) +
                " bytes it declares");
  }
  return out;
}

std::vector<ZipRecord> verify_archive(const std::vector<char>& file, const std::string& path, const std::string& what,
                                      const ZipPolicy& policy) {
  const Bytes bytes(file, path, what);
  std::vector<ZipRecord> records = read_records(bytes);
  std::set<std::string> names;
  for (const auto& record : records) {
    if (!names.insert(record.name).second) bytes.damaged("record '" + record.name + "' appears twice");
    uLong crc = crc32(0L, Z_NULL, 0);
    if (record.method == 0) {
      if (record.original_size != record.stored_size) {
        bytes.damaged("record '" + record.name + "' is stored but declares " + std::to_string(record.original_size) +
                      " bytes in " + std::to_string(record.stored_size));
      }
      std::size_t done = 0;
      while (done < record.stored_size) {  // crc32 takes a 32-bit length
        const auto chunk = static_cast<uInt>(std::min<uint64_t>(record.stored_size - done, 1u << 30));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + record.data_offset + done), chunk);
        done += chunk;
      }
    } else {
      // torch.save never compresses; an inflated record could be any size (1 GiB of zeros
      // deflates to 1 MB). LibTorch's TorchScript writer deflates its code: text, bounded here.
      const bool text =
          record.name.find("/code/") != std::string::npos || record.name.find(".debug_pkl") != std::string::npos;
      if (record.method != 8 || !policy.compressed_code || !text) {
        throw Error(what + " '" + path + "' is refused: record '" + record.name + "' is compressed (zip method " +
                    std::to_string(record.method) + "), which torch.save and fulgur never write; it is not loaded");
      }
      if (record.original_size > policy.max_inflated_bytes) {
        throw Error(what + " '" + path + "' is refused: record '" + record.name + "' would inflate to " +
                    std::to_string(record.original_size) + " bytes, more than " +
                    std::to_string(policy.max_inflated_bytes) + "; it is not loaded");
      }
      std::string inflated;
      try {
        inflated = record_text(file, record);
      } catch (const Error& error) {
        bytes.damaged(error.what());
      }
      crc = crc32(crc, reinterpret_cast<const Bytef*>(inflated.data()), static_cast<uInt>(inflated.size()));
    }
    if (static_cast<uint32_t>(crc) != record.crc) {
      throw Error(what + " '" + path + "' is damaged: record '" + record.name +
                  "' fails its CRC-32 check (written as " + hex(record.crc) + ", now " +
                  hex(static_cast<uint32_t>(crc)) +
                  "): the file changed after it was written (a disk or copy error, or an edit); it is not loaded");
    }
  }
  return records;
}

}  // namespace fulgur::detail
