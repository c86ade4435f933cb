// FULGUR_ARG: an option of an options struct with a fluent setter, as LibTorch's TORCH_ARG:
//   struct LoaderOptions { FULGUR_ARG(LoaderOptions, int64_t, batch_size, 1) };
//   LoaderOptions().batch_size(64);   // sets it; options.batch_size_ reads it
#pragma once

#include <utility>

#define FULGUR_ARG(Self, T, name, initial) \
  T name##_ = initial;                     \
  Self& name(T value) {                    \
    name##_ = std::move(value);            \
    return *this;                          \
  }
