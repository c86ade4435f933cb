// FULGUR_ARG: an option of a light options struct, as LibTorch's TORCH_ARG:
//   struct LoaderOptions { FULGUR_ARG(LoaderOptions, int64_t, batch_size, 1) };
//   LoaderOptions().batch_size(64);   // sets it (and returns the options, so setters chain)
//   options.batch_size();             // reads it (options.batch_size_ too, the old spelling)
// Options that text, a command line or a config file set are declared with FULGUR_OPTION
// (fulgur/options.h) instead, which also gives their reader, printer and help.
#pragma once

#include <utility>

#define FULGUR_ARG(Self, T, name, initial)  \
  T name##_ = initial;                      \
  Self& name(T value) {                     \
    name##_ = std::move(value);             \
    return *this;                           \
  }                                         \
  const T& name() const { return name##_; } \
  T& name() { return name##_; }
