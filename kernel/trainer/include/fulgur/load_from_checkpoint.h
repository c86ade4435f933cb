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
//
// A Module built from other objects (Lightning's LitAutoEncoder(encoder, decoder), which saves
// only its other arguments) gets them again from constructor_args, as Lightning's keyword
// arguments to load_from_checkpoint; they come first, then the saved hyper-parameters if its
// constructor takes them:
//   struct LitAutoEncoder : fulgur::Module {
//     LitAutoEncoder(Encoder encoder, Decoder decoder, const fulgur::HParams& hparams = {{"lr", 1e-3}});
//   };
//   auto model = fulgur::load_from_checkpoint<LitAutoEncoder>(path, fulgur::constructor_args(Encoder(), Decoder()));
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <tuple>
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

/// What load_from_checkpoint passes to the Module's constructor before the hyper-parameters.
template <typename... Args>
struct ConstructorArgs {
  std::tuple<Args...> values;
};
/// `constructor_args(encoder, decoder)`: copies of the arguments, passed to each Module built.
template <typename... Args>
ConstructorArgs<std::decay_t<Args>...> constructor_args(Args&&... args) {
  return {std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)};
}

template <typename M, typename... Args>
std::shared_ptr<M> load_from_checkpoint(const std::string& path, const ConstructorArgs<Args...>& args,
                                        const HParams& overrides = {},
                                        const std::optional<torch::Device>& map_location = std::nullopt) {
  static_assert(std::is_base_of_v<Module, M>, "fulgur::load_from_checkpoint<M>: M must derive from fulgur::Module");
  constexpr bool takes_hparams = std::is_constructible_v<M, const Args&..., const HParams&>;
  static_assert(takes_hparams || std::is_constructible_v<M, const Args&...>,
                "fulgur::load_from_checkpoint<M> builds M from its constructor_args followed by the hyper-parameters "
                "saved in the checkpoint: give M a constructor M(args..., const fulgur::HParams& hparams), or "
                "M(args...) when it saved none");
  const std::string class_name = boost::core::demangle(typeid(M).name());
  auto loaded = detail::open_module_checkpoint(path, overrides);
  std::shared_ptr<M> module;
  try {
    module = std::apply(
        [&](const Args&... values) {
          if constexpr (takes_hparams) {
            return std::make_shared<M>(values..., loaded.hparams);
          } else {
            return std::make_shared<M>(values...);
          }
        },
        args.values);
  } catch (...) {
    detail::rethrow_construction_error(path, class_name, loaded.hparams);
  }
  detail::restore_loaded_module(*module, loaded, path, class_name, map_location);
  return module;
}

template <typename M>
std::shared_ptr<M> load_from_checkpoint(const std::string& path, const HParams& overrides = {},
                                        const std::optional<torch::Device>& map_location = std::nullopt) {
  static_assert(
      std::is_constructible_v<M, const HParams&>,
      "fulgur::load_from_checkpoint<M> builds M from the hyper-parameters saved in the checkpoint: "
      "give M a constructor M(const fulgur::HParams& hparams) that reads them (hparams.get<int64_t>(\"hidden\")), "
      "or pass the other arguments it takes: load_from_checkpoint<M>(path, fulgur::constructor_args(...))");
  return load_from_checkpoint<M>(path, ConstructorArgs<>{}, overrides, map_location);
}

}  // namespace fulgur
