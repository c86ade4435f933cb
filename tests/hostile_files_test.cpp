// Files made to hurt the reader: each is refused with an error naming the file and the problem,
// never a read outside the file's data, a huge allocation, a stack overflow or a hang. Every
// case here crashed, read heap bytes as weights or exhausted memory before the validating reader.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "crafted_files.h"
#include "fulgur/checkpoint.h"
#include "fulgur/dataset_loader.h"
#include "fulgur/error.h"
#include "fulgur/file_dataset.h"
#include "fulgur/state_dict.h"
#include "testing.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::PickleBuilder;

#define EXPECT_MENTIONS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

std::string crafted(const std::string& name, const std::string& bytes) {
  const std::string path = testing::temp_dir("hostile_files") + "/" + name;
  testing::write_bytes(path, bytes);
  return path;
}

// One float tensor of `sizes` over storage "0"; the record holds `record_floats` floats.
std::string tensor_file(const std::string& name, int64_t numel, const std::vector<int64_t>& sizes,
                        const std::vector<int64_t>& strides, int64_t offset, int64_t record_floats) {
  const auto pickle = PickleBuilder().tensor("0", numel, sizes, strides, offset).stop();
  return crafted(name, testing::torch_archive(pickle, {{"0", testing::float_bytes(record_floats)}}));
}

std::string read_error(const std::string& path) {
  return error_of([&] { read_tensor_file(path); });
}

TEST(HostileFiles, TheBuildersMakeFilesThatLoad) {
  // The same construction with honest numbers loads, value for value: the refusals below are
  // the checks at work, not a broken builder.
  const auto path = tensor_file("honest.pt", 12, {3, 4}, {4, 1}, 0, 12);
  const Batch batch = read_tensor_file(path);
  ASSERT_TRUE(batch.is_tensor());
  EXPECT_TRUE(batch.tensor().equal(torch::arange(12, torch::kFloat).reshape({3, 4})));
  const auto view = tensor_file("view.pt", 12, {2, 2}, {1, 4}, 6, 12);  // a strided view inside
  EXPECT_TRUE(read_tensor_file(view).tensor().equal(torch::tensor({{6.f, 10.f}, {7.f, 11.f}})));
}

TEST(HostileFiles, AStorageRecordShorterThanItsElementsIsRefused) {
  const auto path = tensor_file("short_record.pt", 12, {12}, {1}, 0, 1);  // 4 bytes where 48 are declared
  const auto message = read_error(path);
  EXPECT_MENTIONS(message, path);
  EXPECT_MENTIONS(message, "storage record 'data/0' holds 4 bytes but declares 12 elements");
  EXPECT_MENTIONS(error_of([&] {
                    torch::nn::Linear layer(3, 4);
                    load_weights(*layer, path);
                  }),
                  "holds 4 bytes");
}

TEST(HostileFiles, ATensorReachingPastItsStorageIsRefused) {
  // An offset of 2^40 and a stride of 2^36 ended in SIGSEGV; 13 elements of 12 read the heap.
  EXPECT_MENTIONS(read_error(tensor_file("offset.pt", 12, {4}, {1}, int64_t{1} << 40, 12)),
                  "reaches past its storage of 12 elements");
  EXPECT_MENTIONS(read_error(tensor_file("stride.pt", 12, {2}, {int64_t{1} << 36}, 0, 12)),
                  "reaches past its storage of 12 elements");
  EXPECT_MENTIONS(read_error(tensor_file("one_more.pt", 12, {13}, {1}, 0, 12)), "reaching element 12");
  EXPECT_MENTIONS(read_error(tensor_file("overflow.pt", 12, {int64_t{1} << 62, 4}, {4, int64_t{1} << 62}, 0, 12)),
                  "reach past any storage");
  EXPECT_MENTIONS(read_error(tensor_file("negative.pt", 12, {-3}, {1}, 0, 12)), "size -3");
  // An empty tensor reads nothing, wherever it points inside its storage.
  EXPECT_EQ(read_tensor_file(tensor_file("empty.pt", 12, {0, 5}, {5, 1}, 12, 12)).tensor().numel(), 0);
}

TEST(HostileFiles, AHugeDeclaredStringIsRefusedBeforeAnythingIsAllocated) {
  // 459 bytes that asked LibTorch for 4 GiB.
  const auto pickle = PickleBuilder().raw(std::string("X\xff\xff\xff\xff", 5)).raw(std::string(440, 'a')).stop();
  const auto path = crafted("huge_string.pt", testing::torch_archive(pickle, {}));
  const auto message = read_error(path);
  EXPECT_MENTIONS(message, "a string declares 4294967295 bytes but only");
  EXPECT_MENTIONS(message, "is refused");
}

TEST(HostileFiles, AMemoIndexFarBeyondThePicklesSizeIsRefused) {
  const auto pickle = PickleBuilder().op('N').put(0xfffffff0u).stop();  // LibTorch would fill 2^32 entries
  EXPECT_MENTIONS(read_error(crafted("memo.pt", testing::torch_archive(pickle, {}))),
                  "memo index 4294967280 is beyond what a pickle of");
  // Python's pickler leaves gaps between memo indices (Lightning's checkpoints have them): small ones load.
  const auto gap = PickleBuilder().mark().string("a").put(5).get(5).tuple().stop();
  EXPECT_NO_THROW(read_tensor_file(crafted("gap.pt", testing::torch_archive(gap, {}))));
}

TEST(HostileFiles, DeepNestingIsRefusedBeforeItCanOverflowTheStack) {
  // A list nested a million deep overflowed the stack in LibTorch's destructors.
  PickleBuilder deep;
  for (int i = 0; i < 1000000; ++i) deep.empty_list();
  for (int i = 0; i < 1000000 - 1; ++i) deep.op('a');
  const auto path = crafted("deep.pt", testing::torch_archive(deep.stop(), {}));
  EXPECT_MENTIONS(read_error(path), "nests deeper than 256 levels");
  // As deep as real files go, it loads.
  PickleBuilder nested;
  for (int i = 0; i < 50; ++i) nested.empty_list();
  for (int i = 0; i < 49; ++i) nested.op('a');
  EXPECT_NO_THROW(read_tensor_file(crafted("fifty.pt", testing::torch_archive(nested.stop(), {}))));
}

TEST(HostileFiles, AListHoldingItselfIsRefused) {
  const auto pickle = PickleBuilder().empty_list().put(0).get(0).op('a').stop();
  EXPECT_MENTIONS(read_error(crafted("cycle.pt", testing::torch_archive(pickle, {}))), "refers to itself");
}

TEST(HostileFiles, CallsOnlyReachFunctionsTheFileNamed) {
  // LibTorch calls by index: a number in a function's place would call an earlier global.
  const auto by_number = PickleBuilder().integer(0).op(')').reduce().stop();
  EXPECT_MENTIONS(read_error(crafted("by_number.pt", testing::torch_archive(by_number, {}))),
                  "calls something that is not a function");
  const auto system = PickleBuilder().global("os", "system").string("true").op('\x85').reduce().stop();
  EXPECT_MENTIONS(read_error(crafted("system.pt", testing::torch_archive(system, {}))), "names the global 'os.system'");
  const auto sparse = PickleBuilder().global("torch._utils", "_rebuild_sparse_tensor").stop();
  EXPECT_MENTIONS(read_error(crafted("sparse.pt", testing::torch_archive(sparse, {}))), "_rebuild_sparse_tensor");
}

TEST(HostileFiles, CompressedRecordsAreRefused) {
  // A 1 MB record deflated from 1 GiB of zeros resumed at 1.2 GB; torch.save never compresses.
  const auto pickle = PickleBuilder().tensor("0", 12, {12}, {1}).stop();
  testing::ZipBuilder zip;
  zip.stored("archive/data.pkl", pickle).deflated("archive/data/0", std::string(48, '\0'));
  const auto message = read_error(crafted("deflated.pt", zip.bytes()));
  EXPECT_MENTIONS(message, "record 'archive/data/0' is compressed");
}

TEST(HostileFiles, OnlyRegularFilesAreReadAndOnlyTheirSize) {
  const std::string folder = testing::temp_dir("hostile_special");
  // A link to /dev/zero was read until memory ran out; a FIFO would block for ever.
  fs::create_symlink("/dev/zero", folder + "/zero.pt");
  EXPECT_MENTIONS(read_error(folder + "/zero.pt"), "is a character device, not a regular file");
  ASSERT_EQ(::mkfifo((folder + "/fifo.ckpt").c_str(), 0600), 0);
  EXPECT_MENTIONS(error_of([&] { read_checkpoint(folder + "/fifo.ckpt"); }), "is a FIFO, not a regular file");
  torch::nn::Linear layer(3, 4);
  fs::create_symlink("/dev/zero", folder + "/zero.safetensors");
  EXPECT_MENTIONS(error_of([&] { load_weights(*layer, folder + "/zero.safetensors"); }), "is a character device");
}

TEST(HostileFiles, ACheckpointWithACutWeightRecordDoesNotResume) {
  // A real checkpoint whose first weight record is cut to 4 bytes (its CRC made to match).
  const std::string folder = testing::temp_dir("hostile_checkpoint");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  Trainer trainer(testing::quiet_options(1));
  trainer.fit(model, train);
  trainer.save_checkpoint(folder + "/whole.ckpt");
  testing::ZipBuilder zip;
  bool cut = false;
  for (const auto& [name, bytes] : testing::zip_records(folder + "/whole.ckpt")) {
    const bool storage = name.rfind("data/", 0) == 0 && bytes.size() > 4;
    zip.stored("archive/" + name, storage && !cut ? bytes.substr(0, 4) : bytes);
    cut = cut || storage;
  }
  ASSERT_TRUE(cut);
  testing::write_bytes(folder + "/cut.ckpt", zip.bytes());
  testing::TinyClassifier resumed;
  Trainer again(testing::quiet_options(2));
  const auto message = error_of([&] { again.fit(resumed, train, nullptr, folder + "/cut.ckpt"); });
  EXPECT_MENTIONS(message, "cut.ckpt' is refused");
  EXPECT_MENTIONS(message, "holds 4 bytes but declares");
  // The untouched file, rebuilt the same way, resumes: the builder keeps what torch.save wrote.
  testing::ZipBuilder same;
  for (const auto& [name, bytes] : testing::zip_records(folder + "/whole.ckpt")) same.stored("archive/" + name, bytes);
  testing::write_bytes(folder + "/same.ckpt", same.bytes());
  testing::TinyClassifier again_model;
  Trainer third(testing::quiet_options(2));
  EXPECT_NO_THROW(third.fit(again_model, train, nullptr, folder + "/same.ckpt"));
}

TEST(HostileFiles, ABadSampleFailsTheLoaderWithItsNameAlsoInWorkers) {
  const std::string folder = testing::temp_dir("hostile_samples");
  for (int i = 0; i < 4; ++i) {
    testing::write_bytes(
        folder + "/" + std::to_string(i) + ".pt",
        testing::torch_archive(PickleBuilder().tensor("0", 4, {4}, {1}).stop(), {{"0", testing::float_bytes(4)}}));
  }
  testing::write_bytes(folder + "/2.pt",
                       testing::torch_archive(PickleBuilder().tensor("0", 4, {4}, {1}, int64_t{1} << 40).stop(),
                                              {{"0", testing::float_bytes(4)}}));
  for (const int64_t workers : {0, 2}) {
    DatasetLoader loader(std::make_shared<FileDataset>(folder),
                         DatasetLoaderOptions().batch_size(2).num_workers(workers));
    const auto message = error_of([&] {
      loader.start_epoch(0);
      while (loader.next()) {
      }
    });
    EXPECT_MENTIONS(message, "2.pt");
    EXPECT_MENTIONS(message, "reaches past its storage");
  }
}

// --- safetensors ----------------------------------------------------------------------------------

std::string safetensors_error(const std::string& name, const std::string& header, const std::string& data) {
  const auto path = crafted(name, testing::safetensors_file(header, data));
  torch::nn::Linear layer(2, 2);
  const auto message = error_of([&] { load_weights(*layer, path, LoadOptions().strict(false)); });
  EXPECT_MENTIONS(message, path);
  return message;
}

TEST(HostileFiles, SafetensorsHeadersAreCheckedWholeBeforeAnyTensorIsMade) {
  struct Case {
    const char* name;
    const char* header;  // over 8 bytes of data
    const char* named;
  };
  const Case cases[] = {
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       "overlaps the bytes of another tensor"},
      {"twice",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       "tensor 'a' is named twice"},
      {"negative", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "size is negative"},
      {"float", R"({"a":{"dtype":"F32","shape":[1e300],"data_offsets":[0,8]}})", "is not a whole number"},
      {"overflow", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
       "more elements than any file holds"},
      {"terabyte", R"({"a":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,8]}})", "needs 1099511627776"},
      {"gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "bytes 0 to 4 belong to no tensor"},
      {"deep", R"({"a":{"dtype":"F32","shape":[[[[1]]]],"data_offsets":[0,4]}})", "nests deeper"},
  };
  for (const auto& c : cases) {
    EXPECT_MENTIONS(safetensors_error(std::string(c.name) + ".safetensors", c.header, testing::float_bytes(2)),
                    c.named);
  }
  // The honest file loads.
  const auto path = crafted(
      "honest.safetensors",
      testing::safetensors_file(
          R"({"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
          testing::float_bytes(6)));
  torch::nn::Linear layer(2, 2);
  load_weights(*layer, path);
  EXPECT_TRUE(layer->bias.equal(torch::tensor({4.f, 5.f})));
}

}  // namespace
}  // namespace fulgur
