// Lightning's spelling of a length of time in options: "DD:HH:MM:SS" (shorter forms HH:MM:SS and
// MM:SS too) or a plain number of seconds ("90", "1.5"). Trainer max_time, the timer plugin and
// model_checkpoint's train_time_interval read it.
#pragma once

#include <string>

namespace fulgur {

/// The seconds `text` stands for. Throws fulgur::Error naming `what` (an option, "plugin 'timer':
/// duration") and the text when it is neither form or negative.
double parse_duration(const std::string& text, const std::string& what);

}  // namespace fulgur
