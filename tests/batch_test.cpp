// fulgur::Batch and default_collate: batches of any structure, read as Python reads them.
#include <gtest/gtest.h>

#include "fulgur/collate.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

TEST(Batch, UnpacksAListOfTensorsLikeTupleAssignment) {
  const auto x1 = torch::ones({4, 2}), x2 = torch::zeros({4, 3}), y = torch::arange(4);
  const Batch batch = Batch::list({x1, x2, y});
  auto [a, b, c] = batch.unpack<3>();
  EXPECT_TRUE(a.is_same(x1));
  EXPECT_TRUE(b.is_same(x2));
  EXPECT_TRUE(c.is_same(y));
  EXPECT_TRUE(batch[2].is_same(y));
  EXPECT_EQ(batch.size(), 3u);
}

TEST(Batch, DictsKeepTheirOrderAndNameMissingKeys) {
  const Batch batch = Batch::dict({{"image", torch::ones({2, 3})}, {"mask", torch::zeros({2})}, {"path", "a.png"}});
  EXPECT_TRUE(torch::equal(batch["mask"], torch::zeros({2})));
  EXPECT_EQ(batch.at("path").str(), "a.png");
  EXPECT_EQ(batch.keys(), (std::vector<std::string>{"image", "mask", "path"}));
  const auto message = error_of([&] { (void)batch["label"]; });
  EXPECT_NE(message.find("no such key; its keys are 'image', 'mask', 'path'"), std::string::npos) << message;
  const auto not_tensor = error_of([&] { (void)batch["path"]; });
  EXPECT_NE(not_tensor.find("string 'a.png', not a tensor"), std::string::npos) << not_tensor;
}

TEST(Batch, WrongIndexOrArityNamesWhatTheBatchHolds) {
  const Batch batch = Batch::list({torch::ones({2, 5}), torch::zeros({2}, torch::kLong)});
  const auto index = error_of([&] { (void)batch[2]; });
  EXPECT_NE(index.find("the batch has 2 entries: list[tensor[2, 5] Float, tensor[2] Long]"), std::string::npos)
      << index;
  const auto arity = error_of([&] { (void)batch.unpack<3>(); });
  EXPECT_NE(arity.find("expected a list of 3 tensors"), std::string::npos) << arity;
  const Batch tensor = torch::ones({3});
  EXPECT_NE(error_of([&] { (void)tensor["x"]; }).find("not a dict"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)tensor[0]; }).find("which has no positions"), std::string::npos);
}

TEST(Batch, MapsEveryTensorOfANestedStructureAndKeepsOtherLeaves) {
  Batch batch = Batch::dict({{"inputs", Batch::list({torch::ones({2}), torch::ones({2, 2})})},
                             {"id", int64_t{7}},
                             {"scale", 0.5},
                             {"name", "sample"}});
  const Batch doubled = batch.map_tensors([](const at::Tensor& t) { return t.to(torch::kDouble); });
  EXPECT_EQ(doubled.at("inputs")[1].scalar_type(), torch::kDouble);
  EXPECT_EQ(batch.at("inputs")[1].scalar_type(), torch::kFloat);  // the original is untouched
  EXPECT_EQ(doubled.at("id").to_int(), 7);
  EXPECT_EQ(doubled.at("scale").to_double(), 0.5);
  int tensors = 0;
  doubled.for_each_tensor([&](const at::Tensor&) { ++tensors; });
  EXPECT_EQ(tensors, 2);
}

TEST(Batch, BatchSizeIsTheFirstTensorsFirstDimensionAndAmbiguityIsNamed) {
  EXPECT_EQ(Batch::list({torch::ones({5, 2}), torch::ones({5})}).batch_size(), 5);
  EXPECT_EQ(Batch::dict({{"path", "x"}, {"x", torch::ones({3, 1})}}).batch_size(), 3);
  std::string problem;
  EXPECT_FALSE(Batch::list({torch::ones({5, 2}), torch::ones({4})}).batch_size(&problem));
  EXPECT_NE(problem.find("disagree on the number of samples (tensor[5, 2] Float and tensor[4] Float)"),
            std::string::npos)
      << problem;
  EXPECT_FALSE(Batch::list({"a", 1}).batch_size(&problem));
  EXPECT_NE(problem.find("no tensor"), std::string::npos);
}

TEST(Batch, LibTorchExamplesConvert) {
  const Batch pair(torch::data::Example<>(torch::ones({2, 3}), torch::zeros({2})));
  auto [x, y] = pair.unpack<2>();
  EXPECT_EQ(x.sizes(), torch::IntArrayRef({2, 3}));
  const Batch data_only(torch::data::Example<torch::Tensor, torch::data::example::NoTarget>(torch::ones({4})));
  EXPECT_TRUE(data_only.is_tensor());
}

TEST(DefaultCollate, StacksTensorsAndTurnsNumbersAndStringsIntoColumns) {
  std::vector<Batch> samples;
  for (int64_t i = 0; i < 3; ++i) {
    samples.push_back(Batch::dict({{"x", torch::full({2}, static_cast<double>(i))},
                                   {"pair", Batch::list({i, static_cast<double>(i) / 2})},
                                   {"flag", i % 2 == 0},
                                   {"file", "f" + std::to_string(i)}}));
  }
  const Batch batch = default_collate(samples);
  EXPECT_EQ(batch["x"].sizes(), torch::IntArrayRef({3, 2}));
  EXPECT_TRUE(torch::equal(batch.at("pair")[0], torch::tensor({0, 1, 2}, torch::kLong)));
  EXPECT_EQ(batch.at("pair")[1].scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(batch["flag"], torch::tensor({true, false, true})));
  EXPECT_EQ(batch.at("file").at(2).str(), "f2");
}

TEST(DefaultCollate, MismatchedShapesNameBothSamplesAndTheirShapes) {
  std::vector<Batch> samples{Batch::list({torch::ones({3}), int64_t{0}}), Batch::list({torch::ones({4}), int64_t{1}})};
  const auto message = error_of([&] { default_collate(samples, {17, 42}); });
  EXPECT_NE(
      message.find("samples 17 and 42 cannot be stacked into one batch: tensors of different shapes at sample[0]"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("sample 17: tensor[3] Float; sample 42: tensor[4] Float"), std::string::npos) << message;
  std::vector<Batch> keys{Batch::dict({{"a", 1}}), Batch::dict({{"b", 1}})};
  EXPECT_NE(error_of([&] { default_collate(keys); }).find("'a' missing"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
