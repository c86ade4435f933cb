// Data people have on disk: CSV/TSV tables and folders of tensor files, read through the
// DatasetLoader with workers.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <zlib.h>

#include "fulgur/data.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

TEST(CsvDataset, FeatureAndTargetColumnsByNameOrIndex) {
  const auto dir = testing::temp_dir("csv_columns");
  const auto path =
      write_file(dir + "/houses.csv", "rooms,area,\"city, code\",price\n3,70.5,1,200\n4,90,2,310.5\n\n2,40,1,120\n");
  CsvDataset table(path, CsvDatasetOptions().targets({"price"}));
  EXPECT_EQ(table.size(), 3);
  EXPECT_EQ(table.feature_names(), (std::vector<std::string>{"rooms", "area", "city, code"}));
  auto [x, y] = table.get(1).unpack<2>();
  EXPECT_TRUE(torch::equal(x, torch::tensor({4.0f, 90.0f, 2.0f})));
  EXPECT_FLOAT_EQ(y.item<float>(), 310.5f);
  CsvDataset picked(path, CsvDatasetOptions().features({0, "area"}).targets({2}).target_dtype(torch::kLong));
  auto [px, py] = picked.get(2).unpack<2>();
  EXPECT_TRUE(torch::equal(px, torch::tensor({2.0f, 40.0f})));
  EXPECT_EQ(py.scalar_type(), torch::kLong);
  CsvDataset no_target(path);
  EXPECT_TRUE(no_target.get(0).is_tensor());
  EXPECT_EQ(no_target.get(0).tensor().size(0), 4);
}

TEST(CsvDataset, TsvGzipAndHeaderlessFilesWithWorkers) {
  const auto dir = testing::temp_dir("csv_tsv");
  const std::string path = dir + "/rows.tsv.gz";
  {
    gzFile file = gzopen(path.c_str(), "wb");
    for (int i = 0; i < 50; ++i) {
      const std::string line = std::to_string(i) + "\t" + std::to_string(i * 2) + "\t" + std::to_string(i % 3) + "\n";
      gzputs(file, line.c_str());
    }
    gzclose(file);
  }
  auto table =
      std::make_shared<CsvDataset>(path, CsvDatasetOptions().header(false).targets({2}).target_dtype(torch::kLong));
  DatasetLoader loader(table, DatasetLoaderOptions().batch_size(8).num_workers(2).shuffle(true));
  loader.start_epoch(0);
  int64_t rows = 0;
  while (auto batch = loader.next()) {
    auto [x, y] = batch->unpack<2>();
    EXPECT_TRUE(torch::equal(x.select(1, 1), x.select(1, 0) * 2));
    EXPECT_TRUE(torch::equal(y, x.select(1, 0).to(torch::kLong) % 3));
    rows += x.size(0);
  }
  EXPECT_EQ(rows, 50);
}

TEST(CsvDataset, BadFilesAreNamedWithLineAndColumn) {
  const auto dir = testing::temp_dir("csv_bad");
  EXPECT_NE(error_of([&] { CsvDataset unused(dir + "/missing.csv"); }).find("no such file: '" + dir + "/missing.csv'"),
            std::string::npos);
  const auto good = write_file(dir + "/good.csv", "a,b,label\n1,2,0\n");
  const auto missing = error_of([&] { CsvDataset unused(good, CsvDatasetOptions().targets({"target"})); });
  EXPECT_NE(missing.find("has no column 'target' (target); its columns are 'a', 'b', 'label'"), std::string::npos)
      << missing;
  EXPECT_NE(error_of([&] { CsvDataset unused(good, CsvDatasetOptions().features({7})); }).find("feature column 7"),
            std::string::npos);
  const auto word = write_file(dir + "/word.csv", "a,b\n1,2\n3,three\n");
  EXPECT_NE(error_of([&] { CsvDataset unused(word); }).find("word.csv: line 3, column 2: 'three' is not a number"),
            std::string::npos);
  const auto short_row = write_file(dir + "/short.csv", "a,b\n1,2\n3\n");
  EXPECT_NE(error_of([&] { CsvDataset unused(short_row); }).find("line 3 has 1 fields, expected 2"), std::string::npos);
  const auto header_only = write_file(dir + "/header.csv", "a,b\n");
  EXPECT_NE(error_of([&] { CsvDataset unused(header_only); }).find("no data rows"), std::string::npos);
  EXPECT_NE(error_of([&] { CsvDataset unused(write_file(dir + "/empty.csv", "")); }).find("holds no rows"),
            std::string::npos);
}

TEST(FileDataset, ReadsTensorFilesLazilyWithClassesFromFolders) {
  const auto root = testing::temp_dir("file_dataset");
  for (const std::string cls : {"cat", "dog"}) {
    std::filesystem::create_directories(root + "/" + cls);
    for (int i = 0; i < 6; ++i) {
      const double value = (cls == "dog" ? 100 : 0) + i;
      c10::Dict<std::string, torch::Tensor> sample;
      sample.insert("pixels", torch::full({2, 2}, value));
      sample.insert("mask", torch::ones({2}));
      const auto bytes = torch::pickle_save(sample);
      std::ofstream(root + "/" + cls + "/" + std::to_string(i) + ".pt", std::ios::binary)
          .write(bytes.data(), bytes.size());
    }
  }
  auto dataset = std::make_shared<FileDataset>(root, FileDatasetOptions().label_from_folder(true));
  EXPECT_EQ(dataset->size(), 12);
  EXPECT_EQ(dataset->classes(), (std::vector<std::string>{"cat", "dog"}));
  DatasetLoader loader(dataset, DatasetLoaderOptions().batch_size(4).num_workers(2).shuffle(true).seed(1));
  loader.start_epoch(0);
  int64_t seen = 0;
  while (auto batch = loader.next()) {
    const auto& content = batch->at(0);
    const auto labels = (*batch)[1];
    EXPECT_EQ(content["pixels"].sizes(), torch::IntArrayRef({4, 2, 2}));
    EXPECT_TRUE(torch::equal((content["pixels"].select(1, 0).select(1, 0) >= 100).to(torch::kLong), labels));
    seen += labels.size(0);
  }
  EXPECT_EQ(seen, 12);
  // A damaged file is named when its sample is read, not at construction.
  std::ofstream(root + "/dog/0.pt", std::ios::binary) << "not an archive";
  FileDataset reread(root, FileDatasetOptions().label_from_folder(true));
  const auto message = error_of([&] { reread.get(6); });
  EXPECT_NE(message.find("dog/0.pt"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { FileDataset unused(root + "/none"); }).find("is not a folder"), std::string::npos);
  EXPECT_NE(
      error_of([&] { FileDataset unused(root, FileDatasetOptions().extensions({".npy"})); }).find("no .npy files"),
      std::string::npos);
}

}  // namespace
}  // namespace fulgur
