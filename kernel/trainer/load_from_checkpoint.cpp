#include "fulgur/load_from_checkpoint.h"

#include <exception>

#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/state_dict.h"
#include "hparams_ivalue.h"

namespace fulgur::detail {

ModuleCheckpoint open_module_checkpoint(const std::string& path, const HParams& overrides) {
  ModuleCheckpoint loaded{read_model_checkpoint(path), {}, ""};
  if (loaded.checkpoint.contains("hyper_parameters")) {
    loaded.hparams =
        hparams_from_ivalue(loaded.checkpoint.at("hyper_parameters"), "checkpoint '" + path + "': hyper_parameters");
  }
  loaded.hparams.update(overrides);
  if (loaded.checkpoint.contains("fulgur_module") && loaded.checkpoint.at("fulgur_module").isString()) {
    loaded.saved_class = loaded.checkpoint.at("fulgur_module").toStringRef();
  }
  return loaded;
}

void restore_loaded_module(Module& module, ModuleCheckpoint& loaded, const std::string& path,
                           const std::string& class_name, const std::optional<torch::Device>& device) {
  const auto& entry = loaded.checkpoint.at("state_dict");
  if (!entry.isGenericDict()) throw Error("checkpoint '" + path + "': entry 'state_dict' is not a dictionary");
  const std::string saved =
      loaded.saved_class.empty() || loaded.saved_class == class_name
          ? ""
          : " (it was saved from a " + loaded.saved_class + ", and is loaded into a " + class_name + ")";
  load_state_dict(module, entry.toGenericDict(), LoadOptions(), "checkpoint '" + path + "'" + saved);
  module.on_load_checkpoint(loaded.checkpoint);
  if (device) module.to(*device);
  module.eval();
}

void rethrow_construction_error(const std::string& path, const std::string& class_name, const HParams& hparams) {
  try {
    throw;
  } catch (const std::exception& error) {
    throw Error("load_from_checkpoint<" + class_name + ">('" + path +
                "'): the constructor failed with the saved "
                "hyper-parameters {" +
                hparams.key_list() + "}: " + error.what());
  }
}

}  // namespace fulgur::detail
