// fulgur::CheckpointKeeper: a plugin that saves checkpoints during fit and knows which file is the
// best and which the last (model_checkpoint). trainer.test(model, loader, "best") asks it.
#pragma once

#include <string>

#include <boost/config.hpp>

namespace fulgur {

class BOOST_SYMBOL_VISIBLE CheckpointKeeper {
 public:
  virtual ~CheckpointKeeper() = default;
  /// The best file by the monitored metric (the latest without a monitor); "" before any save.
  virtual std::string best_model_path() const = 0;
  virtual std::string last_model_path() const = 0;
};

}  // namespace fulgur
