// The heavy headers nearly every fulgur translation unit needs, compiled once.
#pragma once
#include <torch/torch.h>
#include <boost/signals2/signal.hpp>
#include <spdlog/spdlog.h>
