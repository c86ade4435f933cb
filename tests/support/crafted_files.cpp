#include "crafted_files.h"

#include <zlib.h>

#include <fstream>
#include <stdexcept>

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/file_adapter.h>

namespace fulgur::testing {
namespace {

void little_endian(std::string& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t crc_of(const std::string& bytes) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

}  // namespace

PickleBuilder::PickleBuilder() { bytes_ = std::string("\x80\x02", 2); }

PickleBuilder& PickleBuilder::op(char opcode) {
  bytes_ += opcode;
  return *this;
}

PickleBuilder& PickleBuilder::raw(const std::string& bytes) {
  bytes_ += bytes;
  return *this;
}

PickleBuilder& PickleBuilder::string(const std::string& text) {
  bytes_ += 'X';
  little_endian(bytes_, text.size(), 4);
  bytes_ += text;
  return *this;
}

PickleBuilder& PickleBuilder::integer(int64_t value) {
  if (value >= INT32_MIN && value <= INT32_MAX) {
    bytes_ += 'J';
    little_endian(bytes_, static_cast<uint32_t>(static_cast<int32_t>(value)), 4);
  } else {
    bytes_ += '\x8a';
    bytes_ += '\x08';
    little_endian(bytes_, static_cast<uint64_t>(value), 8);
  }
  return *this;
}

PickleBuilder& PickleBuilder::global(const std::string& module, const std::string& name) {
  bytes_ += 'c' + module + '\n' + name + '\n';
  return *this;
}

PickleBuilder& PickleBuilder::put(uint32_t index) {
  bytes_ += 'r';
  little_endian(bytes_, index, 4);
  return *this;
}

PickleBuilder& PickleBuilder::get(uint32_t index) {
  bytes_ += 'j';
  little_endian(bytes_, index, 4);
  return *this;
}

PickleBuilder& PickleBuilder::tensor(const std::string& key, int64_t numel, const std::vector<int64_t>& sizes,
                                     const std::vector<int64_t>& strides, int64_t offset) {
  global("torch._utils", "_rebuild_tensor_v2");
  mark();
  mark().string("storage").global("torch", "FloatStorage").string(key).string("cpu").integer(numel).tuple();
  op('Q');  // BINPERSID
  integer(offset);
  mark();
  for (const auto size : sizes) integer(size);
  tuple();
  mark();
  for (const auto stride : strides) integer(stride);
  tuple();
  op('\x89');  // requires_grad = False
  global("collections", "OrderedDict").op(')').reduce();
  tuple();
  return reduce();
}

std::string PickleBuilder::stop() { return bytes_ + '.'; }

ZipBuilder& ZipBuilder::stored(const std::string& name, const std::string& bytes) {
  records_.push_back({name, bytes, 0, crc_of(bytes), bytes.size()});
  return *this;
}

ZipBuilder& ZipBuilder::deflated(const std::string& name, const std::string& bytes) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  records_.push_back({name, out, 8, crc_of(bytes), bytes.size()});
  return *this;
}

std::string ZipBuilder::bytes() const {
  std::string out;
  std::string directory;
  for (const auto& record : records_) {
    const auto local = out.size();
    little_endian(out, 0x04034b50, 4);
    little_endian(out, 20, 2);  // version needed
    little_endian(out, 0, 2);   // flags
    little_endian(out, record.method, 2);
    little_endian(out, 0, 4);  // time, date
    little_endian(out, record.crc, 4);
    little_endian(out, record.data.size(), 4);
    little_endian(out, record.original_size, 4);
    little_endian(out, record.name.size(), 2);
    little_endian(out, 0, 2);  // extra
    out += record.name;
    out += record.data;

    little_endian(directory, 0x02014b50, 4);
    little_endian(directory, 20, 2);
    little_endian(directory, 20, 2);
    little_endian(directory, 0, 2);
    little_endian(directory, record.method, 2);
    little_endian(directory, 0, 4);
    little_endian(directory, record.crc, 4);
    little_endian(directory, record.data.size(), 4);
    little_endian(directory, record.original_size, 4);
    little_endian(directory, record.name.size(), 2);
    little_endian(directory, 0, 2);  // extra
    little_endian(directory, 0, 2);  // comment
    little_endian(directory, 0, 2);  // disk
    little_endian(directory, 0, 2);  // internal attributes
    little_endian(directory, 0, 4);  // external attributes
    little_endian(directory, local, 4);
    directory += record.name;
  }
  const auto directory_at = out.size();
  out += directory;
  little_endian(out, 0x06054b50, 4);
  little_endian(out, 0, 4);  // disks
  little_endian(out, records_.size(), 2);
  little_endian(out, records_.size(), 2);
  little_endian(out, directory.size(), 4);
  little_endian(out, directory_at, 4);
  little_endian(out, 0, 2);  // comment
  return out;
}

std::string torch_archive(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages) {
  ZipBuilder zip;
  zip.stored("archive/data.pkl", pickle);
  for (const auto& [key, bytes] : storages) zip.stored("archive/data/" + key, bytes);
  zip.stored("archive/version", "3\n");
  return zip.bytes();
}

std::string float_bytes(int64_t count) {
  std::string out;
  for (int64_t i = 0; i < count; ++i) {
    const float value = static_cast<float>(i);
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  return out;
}

std::string safetensors_file(const std::string& header, const std::string& data) {
  std::string out;
  little_endian(out, header.size(), 8);
  return out + header + data;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file) throw std::runtime_error("cannot write " + path);
}

std::vector<std::pair<std::string, std::string>> zip_records(const std::string& path) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  std::vector<std::pair<std::string, std::string>> out;
  // getAllRecords() names them below the archive's folder; this keeps the file's own order.
  for (const auto& name : reader.getAllRecords()) {
    const auto [data, size] = reader.getRecord(name);
    out.emplace_back(name, std::string(static_cast<const char*>(data.get()), size));
  }
  return out;
}

}  // namespace fulgur::testing
