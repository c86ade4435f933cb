// tensorboard_logger: reads the event file back with a reader written here from the TFRecord
// and protobuf specs (its own bit-by-bit CRC-32C), checks every record's checksums, and finds
// each scalar the Trainer handed the loggers, at its step, and the hyper-parameters.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fulgur/loggers/tensorboard_logger.h"
#include "testing.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

uint32_t slow_crc32c(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

uint32_t masked(const std::string& bytes) {
  const uint32_t crc = slow_crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// A protobuf message as field number -> raw values (varints as numbers, the rest as bytes).
struct Field {
  int number;
  int wire_type;
  uint64_t varint = 0;
  std::string bytes;
};

std::vector<Field> parse(const std::string& data) {
  std::vector<Field> fields;
  std::size_t at = 0;
  auto varint = [&] {
    uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      const auto byte = static_cast<unsigned char>(data.at(at++));
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
  };
  while (at < data.size()) {
    const uint64_t key = varint();
    Field field{static_cast<int>(key >> 3), static_cast<int>(key & 7)};
    if (field.wire_type == 0) {
      field.varint = varint();
    } else {
      const std::size_t size = field.wire_type == 1 ? 8 : field.wire_type == 5 ? 4 : varint();
      field.bytes = data.substr(at, size);
      if (field.bytes.size() != size) throw std::runtime_error("truncated field");
      at += size;
    }
    fields.push_back(field);
  }
  return fields;
}

struct Scalar {
  int64_t step;
  std::string tag;
  float value;
};

struct EventFile {
  std::string file_version;
  std::vector<Scalar> scalars;
  std::vector<std::string> plugin_tags;  // summaries carrying plugin metadata (hparams)
  std::string session_start;             // the hparams session_start_info content
};

EventFile read_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EventFile file;
  std::size_t at = 0;
  while (at < all.size()) {
    const std::string length_bytes = all.substr(at, 8);
    uint64_t length = 0;
    std::memcpy(&length, length_bytes.data(), 8);
    uint32_t length_crc = 0;
    std::memcpy(&length_crc, all.data() + at + 8, 4);
    EXPECT_EQ(length_crc, masked(length_bytes)) << "length checksum at byte " << at;
    const std::string data = all.substr(at + 12, length);
    uint32_t data_crc = 0;
    std::memcpy(&data_crc, all.data() + at + 12 + length, 4);
    EXPECT_EQ(data_crc, masked(data)) << "data checksum at byte " << at;
    at += 12 + length + 4;

    int64_t step = 0;
    for (const auto& field : parse(data)) {
      if (field.number == 2) step = static_cast<int64_t>(field.varint);
      if (field.number == 3) file.file_version = field.bytes;
      if (field.number != 5) continue;
      for (const auto& value_field : parse(field.bytes)) {  // Summary.value
        std::string tag;
        std::optional<float> simple;
        std::string metadata;
        for (const auto& part : parse(value_field.bytes)) {
          if (part.number == 1) tag = part.bytes;
          if (part.number == 2) {
            float value = 0;
            std::memcpy(&value, part.bytes.data(), 4);
            simple = value;
          }
          if (part.number == 9) metadata = part.bytes;
        }
        if (simple) file.scalars.push_back({step, tag, *simple});
        if (!metadata.empty()) {
          file.plugin_tags.push_back(tag);
          if (tag == "_hparams_/session_start_info") file.session_start = metadata;
        }
      }
    }
  }
  EXPECT_EQ(at, all.size());
  return file;
}

std::string event_file_in(const std::string& folder) {
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) return entry.path().string();
  }
  return "";
}

TEST(TensorBoardLogger, TableCrcMatchesTheBitwiseOne) {
  for (const std::string text : {"", "a", "123456789", "brain.Event:2"})
    EXPECT_EQ(loggers::crc32c(text), slow_crc32c(text));
  EXPECT_EQ(loggers::crc32c("123456789"), 0xE3069283u);  // CRC-32C's check value
}

TEST(TensorBoardLogger, EventFileHoldsEveryScalarAndTheHyperparameters) {
  const auto root = testing::temp_dir("tensorboard");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  model.save_hyperparameters({{"lr", 0.1}, {"optimizer", "sgd"}});
  TrainerOptions options;
  options.max_epochs(3);
  options.log_every_n_steps(1);
  options.default_root_dir(root);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.plugins().push_back(loggers::TensorBoardLoggerOptions{}.spec());
  Trainer trainer(options);
  auto& recorder =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train, val);

  const auto path = event_file_in(root + "/lightning_logs/version_0");
  ASSERT_FALSE(path.empty());
  const auto events = read_events(path);
  EXPECT_EQ(events.file_version, "brain.Event:2");
  std::size_t expected = 0;
  for (const auto& [step, row] : recorder.rows) expected += row.size();
  ASSERT_EQ(events.scalars.size(), expected);
  std::size_t i = 0;
  for (const auto& [step, row] : recorder.rows) {
    for (const auto& [tag, value] : row) {
      EXPECT_EQ(events.scalars[i].step, step);
      EXPECT_EQ(events.scalars[i].tag, tag);
      EXPECT_EQ(events.scalars[i].value, static_cast<float>(value)) << tag << " at step " << step;
      ++i;
    }
  }
  EXPECT_EQ(events.plugin_tags, (std::vector<std::string>{"_hparams_/experiment", "_hparams_/session_start_info",
                                                          "_hparams_/session_end_info"}));
  EXPECT_NE(events.session_start.find("hparams"), std::string::npos);
  EXPECT_NE(events.session_start.find("optimizer"), std::string::npos);
  EXPECT_NE(events.session_start.find("sgd"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
