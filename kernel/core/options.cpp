// The reader, printer and checks behind fulgur/options.h and fulgur/option_text.h.
#include "fulgur/options.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "fulgur/error.h"

namespace fulgur {

// --- text ---------------------------------------------------------------------------------------

namespace detail {

bool parse_bool(const std::string& text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on" || text == "True") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off" || text == "False") return false;
  throw std::invalid_argument("true or false, got '" + text + "'");
}

int64_t parse_int(const std::string& text) {
  try {
    std::size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size()) return value;
  } catch (const std::out_of_range&) {
    throw std::invalid_argument("an integer from -9223372036854775808 to 9223372036854775807, got '" + text +
                                "' (out of range)");
  } catch (const std::exception&) {
  }
  throw std::invalid_argument("an integer, got '" + text + "'");
}

double parse_double(const std::string& text) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument("a number, got '" + text + "'");
}

std::string print_double(double value) { return fmt::format("{}", value); }  // the shortest text that reads back

std::vector<std::string> split_text(const std::string& text, char separator) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    items.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return items;
    start = end + 1;
  }
}

// --- reading, checking, documenting ---------------------------------------------------------------

void read_option_fields(const std::vector<OptionField*>& fields, const std::string& owner, const PluginOptions& text) {
  for (const auto& [key, value] : text) {
    const auto found =
        std::find_if(fields.begin(), fields.end(), [&](const OptionField* f) { return key == f->name(); });
    if (found == fields.end() || !(*found)->has_text()) {
      std::set<std::string> accepted;
      for (const OptionField* field : fields) {
        if (field->has_text()) accepted.insert(field->name());
      }
      std::string list;
      for (const auto& name : accepted) list += (list.empty() ? "" : ", ") + name;
      throw PluginError(owner + ": unknown option '" + key + "'; accepted options: " + (list.empty() ? "none" : list));
    }
    try {
      (*found)->set_text(value);
    } catch (const std::invalid_argument& error) {
      throw PluginError(owner + ": option '" + key + "' expects " + error.what());
    }
  }
}

void check_option_fields(const std::vector<const OptionField*>& fields, const std::string& owner) {
  for (const OptionField* field : fields) {
    const std::string problem = field->problem();
    if (!problem.empty()) throw PluginError(owner + ": option '" + field->name() + "' " + problem);
  }
}

std::string option_help_table(const std::vector<const OptionField*>& fields) {
  std::string table = "| option | type | default | meaning |\n| --- | --- | --- | --- |\n";
  for (const OptionField* field : fields) {
    if (!field->has_text()) continue;
    const std::string value = field->text();
    table += fmt::format("| `{}` | {} | {} | {} |\n", field->name(), field->type_name(),
                         value.empty() ? std::string("\"\"") : "`" + value + "`", field->help());
  }
  return table;
}

}  // namespace detail

// --- checks ---------------------------------------------------------------------------------------

OptionCheck<std::string> one_of(std::vector<std::string> choices) {
  return [choices = std::move(choices)](const std::string& value) -> std::string {
    if (std::find(choices.begin(), choices.end(), value) != choices.end()) return "";
    std::string list;
    for (std::size_t i = 0; i < choices.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    }
    return "expects " + list + ", got '" + value + "'";
  };
}

std::string AtLeast::describe(double value) const {
  return fmt::format("must be {} {}, got {}", strict ? ">" : ">=", bound, value);
}

}  // namespace fulgur
