// The tensorboard_logger plugin (see include/fulgur/loggers/tensorboard_logger.h).
#include "fulgur/loggers/tensorboard_logger.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>

#include "fulgur/error.h"
#include "fulgur/folder_logger.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::loggers {
namespace {

// --- protocol buffer wire format: just what Event and Summary need ------------------------------

class Message {
 public:
  Message& varint_field(int field, uint64_t value) {
    key(field, 0);
    varint(value);
    return *this;
  }
  Message& double_field(int field, double value) {
    key(field, 1);
    raw(&value, sizeof value);
    return *this;
  }
  Message& float_field(int field, float value) {
    key(field, 5);
    raw(&value, sizeof value);
    return *this;
  }
  Message& bytes_field(int field, std::string_view value) {
    key(field, 2);
    varint(value.size());
    bytes_.append(value);
    return *this;
  }
  Message& message_field(int field, const Message& value) { return bytes_field(field, value.bytes()); }
  const std::string& bytes() const { return bytes_; }

 private:
  void key(int field, int wire_type) { varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type)); }
  void varint(uint64_t value) {
    while (value >= 0x80) {
      bytes_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    bytes_.push_back(static_cast<char>(value));
  }
  void raw(const void* data, std::size_t size) {
    bytes_.append(static_cast<const char*>(data), size);
  }  // little-endian host

  std::string bytes_;
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Event: wall_time = 1, step = 2, file_version = 3, summary = 5.
Message event(int64_t step) {
  Message message;
  message.double_field(1, now_seconds());
  message.varint_field(2, static_cast<uint64_t>(step));
  return message;
}

// Summary.Value: tag = 1, simple_value = 2, metadata = 9 (SummaryMetadata.plugin_data = 1:
// PluginData{plugin_name = 1, content = 2}).
Message hparams_value(const std::string& tag, const Message& plugin_content) {
  Message plugin_data;
  plugin_data.bytes_field(1, "hparams").message_field(2, plugin_content);
  Message metadata;
  metadata.message_field(1, plugin_data);
  Message value;
  value.bytes_field(1, tag).message_field(9, metadata);
  return value;
}

// google.protobuf.Value: number_value = 2 for numbers, string_value = 3 otherwise.
// google.protobuf.Value: number_value (2) for ints and doubles, bool_value (4), string_value (3)
// for strings, and for lists, maps and null their YAML text (the HPARAMS tab shows scalars only).
Message protobuf_value(const HParamValue& param) {
  Message value;
  switch (param.kind()) {
    case HParamValue::Kind::Int:
    case HParamValue::Kind::Double:
      value.double_field(2, param.as<double>());
      break;
    case HParamValue::Kind::Bool:
      value.varint_field(4, param.as<bool>() ? 1 : 0);
      break;
    case HParamValue::Kind::String:
      value.bytes_field(3, param.as<std::string>());
      break;
    default:
      value.bytes_field(3, param.to_yaml());
  }
  return value;
}

class TensorBoardLogger : public FolderLoggerPlugin {
 public:
  explicit TensorBoardLogger(const TensorBoardLoggerOptions& options)
      : FolderLoggerPlugin(options.save_dir(), options.name()) {}

  std::string name() const override { return "tensorboard_logger"; }

  // Written with the file's first record: a resumed run learns its version folder only after
  // the run's start, when the hyper-parameters arrive.
  void log_hyperparams(const Hyperparameters& params) override {
    hparams_ = params;
    if (file_.is_open()) write_hparams();
  }

  void log_metrics(const Metrics& metrics, int64_t step) override {
    Message summary;
    for (const auto& [tag, value] : metrics) {
      Message scalar;
      scalar.bytes_field(1, tag).float_field(2, static_cast<float>(value));
      summary.message_field(1, scalar);
    }
    write_record(event(step).message_field(5, summary).bytes());
  }

  void save() override {
    if (file_.is_open()) flush();
  }

  void finalize(const std::string& status) override {
    if (hparams_written_) {
      // SessionEndInfo: status = 1 (1 success, 2 failure), end_time_secs = 2.
      Message end;
      end.varint_field(1, status == "success" ? 1 : 2).double_field(2, now_seconds());
      write_summary(0, hparams_value("_hparams_/session_end_info", Message().varint_field(1, 0).message_field(4, end)));
    }
    if (file_.is_open()) {
      flush();
      file_.close();
    }
  }

 private:
  void write_hparams() {
    const auto& params = hparams_;
    if (params.empty() || hparams_written_) return;
    // As torch.utils.tensorboard's hparams(): an experiment listing the names, then a session
    // holding the values.
    Message experiment;
    for (const auto& [key, value] : params) {
      Message info;
      info.bytes_field(1, key);
      experiment.message_field(4, info);
    }
    Message session;
    for (const auto& [key, value] : params) {
      Message entry;
      entry.bytes_field(1, key).message_field(2, protobuf_value(value));
      session.message_field(1, entry);
    }
    session.double_field(5, now_seconds());
    write_summary(0, hparams_value("_hparams_/experiment", Message().varint_field(1, 0).message_field(2, experiment)));
    write_summary(
        0, hparams_value("_hparams_/session_start_info", Message().varint_field(1, 0).message_field(3, session)));
    hparams_written_ = true;
  }

  void write_summary(int64_t step, const Message& value) {
    Message summary;
    summary.message_field(1, value);
    write_record(event(step).message_field(5, summary).bytes());
  }

  // TFRecord: length (uint64), masked CRC of the length, data, masked CRC of the data.
  void write_record(const std::string& data) {
    open();
    const uint64_t length = data.size();
    const std::string_view length_bytes(reinterpret_cast<const char*>(&length), sizeof length);
    const uint32_t length_crc = masked_crc32c(length_bytes);
    const uint32_t data_crc = masked_crc32c(data);
    file_.write(length_bytes.data(), length_bytes.size());
    file_.write(reinterpret_cast<const char*>(&length_crc), sizeof length_crc);
    file_.write(data.data(), static_cast<std::streamsize>(data.size()));
    file_.write(reinterpret_cast<const char*>(&data_crc), sizeof data_crc);
    if (!file_) fail("writing failed");
  }

  void open() {
    if (file_.is_open()) return;
    const std::string folder = this->folder();
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    path_ = folder + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now_seconds())) + "." + host + "." +
            std::to_string(::getpid()) + "." + std::to_string(files_opened_++);
    file_.open(path_, std::ios::binary | std::ios::app);
    if (!file_) fail("cannot open it");
    write_record(Message().double_field(1, now_seconds()).bytes_field(3, "brain.Event:2").bytes());
    write_hparams();
  }

  void flush() {
    file_.flush();
    if (!file_) fail("flushing failed");
  }

  [[noreturn]] void fail(const std::string& what) {
    throw Error("cannot write log file '" + path_ + "': " + what + ": " + std::strerror(errno));
  }

  std::ofstream file_;
  std::string path_;
  int files_opened_ = 0;
  Hyperparameters hparams_;
  bool hparams_written_ = false;
};

std::unique_ptr<Plugin> make_tensorboard_logger(const PluginOptions& options) {
  return std::make_unique<TensorBoardLogger>(TensorBoardLoggerOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::loggers

FULGUR_EXPORT_PLUGIN(fulgur::loggers::make_tensorboard_logger)
