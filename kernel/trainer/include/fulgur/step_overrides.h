// fulgur::StepOverrides: which optional steps a Module type writes itself, found at compile time.
//
// Lightning asks a LightningModule at run time whether it overrides validation_step; C++ knows
// it from the Module's static type. Trainer::fit<M> and the other runs take M's overrides, so a
// Module without validation_step has no validation loop and predict falls back to forward(x).
#pragma once

#include <type_traits>
#include <utility>

#include <torch/types.h>

#include "fulgur/batch.h"
#include "fulgur/module.h"

namespace fulgur {

namespace detail {
// The class that declares the step a member pointer names; deduction picks the overload of the
// given arity, so a Module that declares neither form yields Module itself.
template <typename C>
C step_owner2(torch::Tensor (C::*)(const Batch&, int64_t));
template <typename C>
C step_owner3(torch::Tensor (C::*)(const Batch&, int64_t, int64_t));
}  // namespace detail

// Whether M (or a class between it and Module) declares its own `step`, in either form.
#define FULGUR_DECLARES_STEP(step)                                                               \
  template <typename M, typename = void>                                                         \
  struct Declares2_##step : std::false_type {};                                                  \
  template <typename M>                                                                          \
  struct Declares2_##step<M, std::void_t<decltype(detail::step_owner2(&M::step))>>               \
      : std::bool_constant<!std::is_same_v<decltype(detail::step_owner2(&M::step)), Module>> {}; \
  template <typename M, typename = void>                                                         \
  struct Declares3_##step : std::false_type {};                                                  \
  template <typename M>                                                                          \
  struct Declares3_##step<M, std::void_t<decltype(detail::step_owner3(&M::step))>>               \
      : std::bool_constant<!std::is_same_v<decltype(detail::step_owner3(&M::step)), Module>> {}; \
  template <typename M>                                                                          \
  static constexpr bool declares_##step = Declares2_##step<M>::value || Declares3_##step<M>::value;

/// Which optional steps a Module type overrides. Found at compile time from the Module's static
/// type, so a Module without validation_step simply has no validation loop, as in Lightning.
struct StepOverrides {
  bool validation = true;
  bool test = true;
  bool predict = true;
  /// The Module's forward(x), when it has one: Lightning's default predict_step calls it.
  using Forward = torch::Tensor (*)(Module&, const torch::Tensor&);
  Forward forward = nullptr;

  template <typename M, typename = void>
  struct HasForward : std::false_type {};
  template <typename M>
  struct HasForward<
      M, std::void_t<decltype(torch::Tensor(std::declval<M&>().forward(std::declval<const torch::Tensor&>())))>>
      : std::true_type {};

  FULGUR_DECLARES_STEP(validation_step)
  FULGUR_DECLARES_STEP(test_step)
  FULGUR_DECLARES_STEP(predict_step)

  template <typename M>
  static StepOverrides of() {
    static_assert(std::is_base_of_v<Module, M>, "fulgur::Trainer runs fulgur::Module subclasses");
    StepOverrides overrides;
    if constexpr (!std::is_same_v<M, Module>) {
      overrides.validation = declares_validation_step<M>;
      overrides.test = declares_test_step<M>;
      overrides.predict = declares_predict_step<M>;
      if constexpr (HasForward<M>::value) {
        overrides.forward = [](Module& module, const torch::Tensor& x) {
          return torch::Tensor(static_cast<M&>(module).forward(x));
        };
      }
    }
    return overrides;
  }
};
#undef FULGUR_DECLARES_STEP

}  // namespace fulgur
