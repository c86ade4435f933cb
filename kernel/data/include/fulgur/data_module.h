// fulgur::DataModule: Lightning's LightningDataModule. Everything about a dataset in one class:
// how to get it (prepare_data), how to split and transform it (setup), and its loaders.
//
//   struct Digits : fulgur::DataModule {
//     void setup(fulgur::Stage stage) override { ... build datasets ... }
//     fulgur::DataLoaders train_dataloader() override { return std::make_unique<...>(...); }
//     fulgur::DataLoaders val_dataloader() override { ... }
//   };
//   Digits data;
//   trainer.fit(model, data);
//   trainer.test(model, data);
//
// Order in a run: prepare_data (local rank 0 only), setup(stage) (before the plugins' and the
// Module's setup), then the loaders the stage needs; teardown(stage) at the end (before the
// plugins' and the Module's). state_dict() is saved in checkpoints under name() and given
// back to load_state_dict when a fit resumes.
#pragma once

#include <string>

#include "fulgur/checkpoint.h"
#include "fulgur/data_loaders.h"
#include "fulgur/stage.h"

namespace fulgur {

class Trainer;

class DataModule : public DataHooks {
 public:
  /// Lets go of the Trainer of its last run, which keeps a pointer to it until then.
  ~DataModule() override;
  virtual void setup(Stage /*stage*/) {}
  virtual void teardown(Stage /*stage*/) {}
  /// Extra state to keep in checkpoints (e.g. a tokenizer's vocabulary size); empty by default.
  virtual StateDict state_dict() { return make_state_dict(); }
  virtual void load_state_dict(const StateDict& /*state*/) {}
  /// The checkpoint key of state_dict(): the class's name, as Lightning's __qualname__.
  virtual std::string name() const;

  /// The Trainer running this DataModule or the one that ran it last (as Lightning's), or nullptr.
  Trainer* trainer() const { return trainer_; }

 private:
  friend class Trainer;
  Trainer* trainer_ = nullptr;
};

}  // namespace fulgur
