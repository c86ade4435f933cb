// fulgur::load_from_checkpoint: Lightning's LightningModule.load_from_checkpoint.
//
//   struct Net : fulgur::Module {
//     explicit Net(const fulgur::HParams& hparams) {       // what load_from_checkpoint calls
//       save_hyperparameters(hparams);
//       fc = register_module("fc", torch::nn::Linear(64, hparams.get<int64_t>("hidden")));
//     }
//     ...
//   };
//   auto model = fulgur::load_from_checkpoint<Net>("epoch=9-step=400.ckpt");
//   auto other = fulgur::load_from_checkpoint<Net>(path, {{"dropout", 0.0}}, torch::kCUDA);
//
// It builds the Module from the hyper-parameters saved in the checkpoint (with `overrides` on
// top), loads its weights strictly (each missing, unexpected or mis-shaped tensor is named),
// calls its on_load_checkpoint with the checkpoint, moves it to `map_location` and returns it in
// eval mode, ready for inference in a new process.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>

#include <boost/core/demangle.hpp>

#include "fulgur/checkpoint.h"
#include "fulgur/hparams.h"
#include "fulgur/module.h"

namespace fulgur {

namespace detail {

/// The checkpoint at `path` and its hyper-parameters with `overrides` applied.
struct ModuleCheckpoint {
  Checkpoint checkpoint;
  HParams hparams;
  std::string saved_class;  // the class that wrote it ("" in older files)
};
ModuleCheckpoint open_module_checkpoint(const std::string& path, const HParams& overrides);
/// Loads the weights strictly, runs on_load_checkpoint, moves to `device`, sets eval mode.
void restore_loaded_module(Module& module, ModuleCheckpoint& loaded, const std::string& path,
                           const std::string& class_name, const std::optional<torch::Device>& device);
[[noreturn]] void rethrow_construction_error(const std::string& path, const std::string& class_name,
                                             const HParams& hparams);

}  // namespace detail

template <typename M>
std::shared_ptr<M> load_from_checkpoint(const std::string& path, const HParams& overrides = {},
                                        const std::optional<torch::Device>& map_location = std::nullopt) {
  static_assert(std::is_base_of_v<Module, M>, "fulgur::load_from_checkpoint<M>: M must derive from fulgur::Module");
  static_assert(std::is_constructible_v<M, const HParams&>,
                "fulgur::load_from_checkpoint<M> builds M from the hyper-parameters saved in the checkpoint: "
                "give M a constructor M(const fulgur::HParams& hparams) that reads them (hparams.get<int64_t>(\"hidden\"))");
  const std::string class_name = boost::core::demangle(typeid(M).name());
  auto loaded = detail::open_module_checkpoint(path, overrides);
  std::shared_ptr<M> module;
  try {
    module = std::make_shared<M>(loaded.hparams);
  } catch (...) {
    detail::rethrow_construction_error(path, class_name, loaded.hparams);
  }
  detail::restore_loaded_module(*module, loaded, path, class_name, map_location);
  return module;
}

}  // namespace fulgur
