// DataModule and the Module's own *_dataloader hooks: Lightning's order (prepare_data once,
// setup per stage, loaders after setup, teardown) and the DataModule's state in checkpoints.
#include <gtest/gtest.h>

#include "fulgur/data.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

TrainerOptions quiet(int64_t epochs = 1) { return testing::quiet_options(epochs); }

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::Fit:
      return "fit";
    case Stage::Validate:
      return "validate";
    case Stage::Test:
      return "test";
    case Stage::Predict:
      return "predict";
  }
  return "?";
}

class Blobs : public DataModule {
 public:
  explicit Blobs(std::vector<std::string>& calls) : calls_(calls) {}
  void prepare_data() override { calls_.push_back("prepare_data"); }
  void setup(Stage stage) override {
    calls_.push_back(std::string("setup ") + stage_name(stage));
    // Datasets are built here, in every process, after prepare_data.
    if (!data_.x.defined()) data_ = testing::make_blobs(96, 4, 2);
  }
  void teardown(Stage stage) override { calls_.push_back(std::string("teardown ") + stage_name(stage)); }
  DataLoaders train_dataloader() override {
    calls_.push_back("train_dataloader");
    return std::make_unique<TensorDataLoader>(testing::make_loader(data_, batch_size, true, 3));
  }
  DataLoaders val_dataloader() override {
    calls_.push_back("val_dataloader");
    return std::make_unique<TensorDataLoader>(testing::make_loader(data_, 32));
  }
  DataLoaders test_dataloader() override {
    calls_.push_back("test_dataloader");
    return DataLoaders::of(std::make_unique<TensorDataLoader>(testing::make_loader(data_, 32)),
                           std::make_unique<TensorDataLoader>(testing::make_loader(data_, 48)));
  }
  DataLoaders predict_dataloader() override {
    return std::make_unique<TensorDataLoader>(testing::make_loader(data_, 32));
  }
  StateDict state_dict() override {
    StateDict state = make_state_dict();
    state.insert("batch_size", batch_size);
    return state;
  }
  void load_state_dict(const StateDict& state) override { batch_size = state.at("batch_size").toInt(); }

  int64_t batch_size = 8;

 private:
  std::vector<std::string>& calls_;
  testing::Blobs data_;
};

// Records the plugins' view of setup so the DataModule's place in the order shows.
struct SetupRecorder : Plugin {
  explicit SetupRecorder(std::vector<std::string>& calls) : calls_(calls) {}
  std::string name() const override { return "setup_recorder"; }
  void attach(HookBus& bus) override {
    connect(bus.setup,
            [this](StageHook& hook) { calls_.push_back(std::string("plugin setup ") + stage_name(hook.stage)); });
    connect(bus.on_fit_start, [this](RunHook&) { calls_.push_back("on_fit_start"); });
  }
  std::vector<std::string>& calls_;
};

TEST(DataModule, HooksRunInLightningsOrderAndLoadersComeAfterSetup) {
  std::vector<std::string> calls;
  Blobs data(calls);
  testing::TinyClassifier model;
  Trainer trainer(quiet(2));
  trainer.add_plugin(std::make_unique<SetupRecorder>(calls));
  trainer.fit(model, data);
  EXPECT_EQ(calls, (std::vector<std::string>{"prepare_data", "setup fit", "plugin setup fit", "train_dataloader",
                                             "val_dataloader", "on_fit_start", "teardown fit"}));
  EXPECT_EQ(trainer.global_step(), 2 * 12);
  calls.clear();
  const auto results = trainer.test(model, data);
  EXPECT_EQ(calls, (std::vector<std::string>{"prepare_data", "setup test", "plugin setup test", "test_dataloader",
                                             "teardown test"}));
  EXPECT_GT(results.at("test_acc/dataloader_idx_0"), 0.9);
  EXPECT_EQ(results.at("test_acc/dataloader_idx_0"), results.at("test_acc/dataloader_idx_1"));  // the same samples
  EXPECT_GT(trainer.validate(model, data).at("val_loss"), 0.0);
  const auto predictions = trainer.predict(model, data);
  ASSERT_EQ(predictions.size(), 1u);
  EXPECT_EQ(predictions[0].size(), 3u);
}

TEST(DataModule, ItsStateTravelsInTheCheckpoint) {
  const std::string dir = testing::temp_dir("data_module_state");
  std::vector<std::string> calls;
  Blobs data(calls);
  data.batch_size = 16;
  testing::TinyClassifier model;
  Trainer trainer(quiet(1));
  trainer.fit(model, data);
  trainer.save_checkpoint(dir + "/one.ckpt");
  const auto checkpoint = read_checkpoint(dir + "/one.ckpt");
  ASSERT_TRUE(checkpoint.contains("Blobs"));
  EXPECT_EQ(checkpoint.at("Blobs").toGenericDict().at("batch_size").toInt(), 16);

  Blobs resumed_data(calls);  // a fresh DataModule gets the saved state back on resume
  testing::TinyClassifier resumed;
  Trainer again(quiet(2));
  again.fit(resumed, resumed_data, dir + "/one.ckpt");
  EXPECT_EQ(resumed_data.batch_size, 16);
}

TEST(DataModule, AModuleMayBringItsOwnLoaders) {
  struct SelfFed : testing::TinyClassifier {
    DataLoaders train_dataloader() override {
      return std::make_unique<TensorDataLoader>(testing::make_loader(testing::make_blobs(40), 10));
    }
    DataLoaders val_dataloader() override {
      return std::make_unique<TensorDataLoader>(testing::make_loader(testing::make_blobs(20, 4, 1), 10));
    }
    void prepare_data() override { ++prepared; }
    int prepared = 0;
  };
  SelfFed model;
  Trainer trainer(quiet(2));
  trainer.fit(model);
  EXPECT_EQ(trainer.global_step(), 8);
  EXPECT_EQ(model.prepared, 1);
  EXPECT_TRUE(trainer.callback_metrics().count("val_loss"));
  EXPECT_GT(trainer.validate(model).at("val_loss"), 0.0);
}

TEST(DataModule, MissingLoadersAreNamed) {
  testing::TinyClassifier model;
  Trainer trainer(quiet());
  EXPECT_NE(error_of([&] { trainer.fit(model); }).find("fit needs training data"), std::string::npos);
  EXPECT_NE(error_of([&] { trainer.test(model); }).find("test needs data"), std::string::npos);
  struct NoTest : DataModule {
    DataLoaders train_dataloader() override {
      return std::make_unique<TensorDataLoader>(testing::make_loader(testing::make_blobs(8), 4));
    }
  };
  NoTest data;
  const auto message = error_of([&] { trainer.test(model, data); });
  EXPECT_NE(message.find("test_dataloader() (the DataModule's returned none)"), std::string::npos) << message;
}

TEST(DataModule, AFailingSetupReleasesTheDataModule) {
  struct Fails : DataModule {
    void setup(Stage) override { throw Error("unused"); }
  };
  Fails data;
  testing::TinyClassifier model;
  Trainer trainer(quiet());
  EXPECT_NE(error_of([&] { trainer.fit(model, data); }).find("unused"), std::string::npos);
  // The DataModule was released: it can run again.
  struct Fine : DataModule {
    DataLoaders train_dataloader() override {
      return std::make_unique<TensorDataLoader>(testing::make_loader(testing::make_blobs(8), 4));
    }
  };
  Fine fine;
  trainer.fit(model, fine);
  EXPECT_EQ(fine.trainer(), &trainer);  // as Lightning's datamodule.trainer, it stays set after the run
  EXPECT_EQ(data.trainer(), nullptr);   // the Trainer's next run took it over from the failed one
}

}  // namespace
}  // namespace fulgur
