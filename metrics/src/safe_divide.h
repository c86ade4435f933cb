// torchmetrics' _safe_divide: num / den as floats, `zero_division` where den is 0 (private).
#pragma once

#include <ATen/ATen.h>

namespace fulgur::metrics::detail {

inline at::Tensor safe_divide(at::Tensor num, at::Tensor den, double zero_division = 0.0) {
  if (!num.is_floating_point()) num = num.to(at::kFloat);
  if (!den.is_floating_point()) den = den.to(at::kFloat);
  return at::where(den != 0, num / den, at::full({}, zero_division, num.options()));
}

}  // namespace fulgur::metrics::detail
