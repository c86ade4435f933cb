// Broken on purpose: a module library built for another ABI. Its static initialiser would abort
// the process if the `fulgur` command loaded it before checking the tag.
#include <cstdlib>

#include <boost/config.hpp>

namespace {
const int must_not_run = [] {
  std::abort();
  return 0;
}();
}  // namespace

extern "C" BOOST_SYMBOL_EXPORT const char fulgur_modules_abi[] = "fulgur-plugin-0;torch-0.4;cxx11abi-0";
