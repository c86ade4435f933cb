# Sourced by the parity tests: sets $python to the comparison environment's interpreter, or ends
# the test: skipped (exit 77) when FULGUR_NO_PARITY=1, failed when the environment is missing.
if [ "${FULGUR_NO_PARITY:-0}" = 1 ]; then
  echo "FULGUR_NO_PARITY=1: the comparison with Lightning is turned off"; exit 77
fi
python=${FULGUR_PARITY_PYTHON:-}
if [ -z "$python" ] && [ -f "$build/parity_python" ]; then python=$(cat "$build/parity_python"); fi
if [ -z "$python" ] || [ ! -x "$python" ]; then
  echo "the comparison environment is missing: run scripts/setup-parity.sh (scripts/test.sh does), or set"
  echo "FULGUR_NO_PARITY=1 on a machine without PyPI"
  exit 1
fi
