// fulgur::CheckpointFolder: a plugin that writes checkpoints into a folder of its own choosing
// (model_checkpoint, on_exception_checkpoint). ckpt_path "last" searches that folder as well as
// the experiment's version folders.
#pragma once

#include <string>

#include <boost/config.hpp>

namespace fulgur {

class BOOST_SYMBOL_VISIBLE CheckpointFolder {
 public:
  virtual ~CheckpointFolder() = default;
  /// The folder the plugin was given; "" when it writes to Trainer::default_checkpoint_dir().
  virtual std::string given_checkpoint_dir() const = 0;
};

}  // namespace fulgur
