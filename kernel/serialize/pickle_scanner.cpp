#include "pickle_scanner.h"

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include <c10/core/QScheme.h>
#include <c10/core/ScalarType.h>

namespace fulgur::detail {
namespace {

// What the walk knows of a value on the unpickler's stack: enough to check the arguments of the
// calls that matter (storages, tensor views, type tags) and the nesting of everything.
enum class Kind {
  Mark,  // MARK: not a value
  Atom,  // None, bools, floats, anything whose content no check needs
  Int,
  String,
  Global,      // a function or class the pickle named (GLOBAL)
  ScalarType,  // torch.FloatStorage & co., and quantization schemes: LibTorch pushes a number
  Tuple,
  Container,  // a list or dict, mutable while it is the original on the stack
  Object,     // what a call built
  Storage,    // BINPERSID's result: a storage and the numel it declares
};

// Values with an identity (memoized and referred to again) share one Node.
struct Entry;
struct Node {
  int depth = 1;
  bool open = false;         // a container still being filled: a reference to it would be a cycle
  std::vector<Entry> items;  // a tuple's items (kept up to kKeptItems)
  bool items_kept = true;
  std::string name;   // a global's "module.name"
  int64_t numel = 0;  // a storage's elements and their size
  int64_t itemsize = 0;
};

struct Entry {
  Entry(Kind of = Kind::Atom) : kind(of) {}  // NOLINT: implicit, so a kind reads as an entry

  Kind kind;
  int64_t number = 0;                       // Int, ScalarType
  std::shared_ptr<const std::string> text;  // String (up to kKeptText bytes)
  std::shared_ptr<Node> node;               // Global, Tuple, Container, Object, Storage
  bool from_memo = false;                   // a reference (BINGET), not the original

  int depth() const { return node ? node->depth : 0; }
};

constexpr std::size_t kKeptItems = 64;   // a tensor has at most 64 dimensions
constexpr std::size_t kKeptText = 4096;  // keys, type tags, global names
constexpr std::size_t kMaxTypeTagDepth = 32;

// itemsize of a storage class (torch.FloatStorage -> 4); 0 when it is not one.
std::pair<c10::ScalarType, int64_t> storage_type(const std::string& class_name) {
#define FULGUR_STORAGE_TYPE(_, name) \
  if (class_name == #name "Storage") return {c10::k##name, static_cast<int64_t>(c10::elementSize(c10::k##name))};
  AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(FULGUR_STORAGE_TYPE)
#undef FULGUR_STORAGE_TYPE
  return {c10::ScalarType::Undefined, 0};
}

bool is_quantization_scheme(const std::string& class_name) {
  for (int i = 0; i < static_cast<int>(c10::COMPILE_TIME_NUM_QSCHEMES); ++i) {
    if (class_name == c10::toString(static_cast<c10::QScheme>(i))) return true;
  }
  return false;
}

// a * b + c without overflow; nullopt when it would not fit in int64_t.
std::optional<int64_t> multiply_add(int64_t a, int64_t b, int64_t c) {
  int64_t product = 0;
  int64_t sum = 0;
  if (__builtin_mul_overflow(a, b, &product) || __builtin_add_overflow(product, c, &sum)) return std::nullopt;
  return sum;
}

class Scanner {
 public:
  Scanner(const std::string& pickle, const PickleScanOptions& options) : in_(pickle), options_(options) {}

  std::optional<std::string> run() {
    if (in_.empty() || static_cast<unsigned char>(in_[0]) != 0x80) return fail("it does not start with a PROTO opcode");
    while (!problem_) {
      if (pos_ >= in_.size()) return fail("it ends without a STOP opcode");
      at_ = pos_;
      const auto op = static_cast<unsigned char>(in_[pos_++]);
      if (op == '.') break;
      step(op);
    }
    if (problem_) return problem_;
    std::size_t values = 0;
    for (const auto& entry : stack_) values += entry.kind == Kind::Mark ? 0 : 1;
    if (values != 1) return fail("it leaves " + std::to_string(values) + " values instead of one");
    return std::nullopt;
  }

 private:
  void step(unsigned char op) {
    switch (op) {
      case 0x80:
        fixed(1);
        break;  // PROTO
      case '(':
        stack_.push_back({Kind::Mark});
        break;  // MARK
      case 'N':
      case 0x88:
      case 0x89:
        push_atom();
        break;  // NONE, NEWTRUE, NEWFALSE
      case 'G':
        fixed(8);
        push_atom();
        break;  // BINFLOAT
      case 'K':
        push_int(static_cast<int64_t>(unsigned_number(1)));
        break;  // BININT1
      case 'M':
        push_int(static_cast<int64_t>(unsigned_number(2)));
        break;  // BININT2
      case 'J':
        push_int(static_cast<int32_t>(unsigned_number(4)));
        break;  // BININT
      case 0x8a:
        long1();
        break;  // LONG1
      case 'X':
        unicode();
        break;  // BINUNICODE
      case ']':
        push_container();
        break;  // EMPTY_LIST
      case '}':
        push_container();
        break;  // EMPTY_DICT
      case ')':
        push_tuple({});
        break;  // EMPTY_TUPLE
      case 't':
        push_tuple(pop_to_mark());
        break;  // TUPLE
      case 0x85:
        push_tuple(pop_values(1));
        break;  // TUPLE1
      case 0x86:
        push_tuple(pop_values(2));
        break;  // TUPLE2
      case 0x87:
        push_tuple(pop_values(3));
        break;  // TUPLE3
      case 'l':
      case 'd': {  // LIST, DICT
        auto items = pop_to_mark();
        push_container();
        if (!problem_) fill(stack_.back(), items);
        break;
      }
      case 'e':
      case 'u': {  // APPENDS, SETITEMS
        auto items = pop_to_mark();
        if (!problem_ && stack_.empty()) return void(fail("APPENDS or SETITEMS without a container"));
        if (!problem_) fill(stack_.back(), items);
        break;
      }
      case 's': {  // SETITEM
        auto items = pop_values(2);
        if (!problem_ && stack_.empty()) return void(fail("SETITEM without a dict"));
        if (!problem_) fill(stack_.back(), items);
        break;
      }
      case 'q':
        memo_put(unsigned_number(1));
        break;  // BINPUT
      case 'r':
        memo_put(unsigned_number(4));
        break;  // LONG_BINPUT
      case 'h':
        memo_get(unsigned_number(1));
        break;  // BINGET
      case 'j':
        memo_get(unsigned_number(4));
        break;  // LONG_BINGET
      case 'c':
        global();
        break;  // GLOBAL
      case 0x81:
        new_object();
        break;  // NEWOBJ
      case 'R':
      case 'b':
        call(op == 'b');
        break;  // REDUCE, BUILD
      case 'Q':
        persistent_id();
        break;  // BINPERSID
      default: {
        static const char* hex = "0123456789abcdef";
        fail(std::string("opcode 0x") + hex[op >> 4] + hex[op & 15] + " is not one LibTorch's unpickler reads");
      }
    }
  }

  // --- reading ----------------------------------------------------------------------------------

  std::optional<std::string> fail(const std::string& what) {
    if (!problem_) problem_ = what + " (at byte " + std::to_string(at_) + " of the pickle)";
    return problem_;
  }
  bool fixed(std::size_t count) {
    if (in_.size() - pos_ < count) {
      fail("it ends inside an opcode");
      pos_ = in_.size();
      return false;
    }
    pos_ += count;
    return true;
  }
  uint64_t unsigned_number(std::size_t width) {
    const std::size_t from = pos_;
    if (!fixed(width)) return 0;
    uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i)
      value |= static_cast<uint64_t>(static_cast<unsigned char>(in_[from + i])) << (8 * i);
    return value;
  }
  void long1() {
    const uint64_t length = unsigned_number(1);
    if (problem_) return;
    if (length > 8) return void(fail("an integer of " + std::to_string(length) + " bytes (LibTorch reads 8 at most)"));
    uint64_t value = unsigned_number(length);
    if (length > 0 && length < 8 && (value >> (8 * length - 1)) & 1) value |= ~uint64_t{0} << (8 * length);  // sign
    push_int(static_cast<int64_t>(value));
  }
  void unicode() {
    const uint64_t length = unsigned_number(4);
    if (problem_) return;
    if (length > in_.size() - pos_) {
      return void(fail("a string declares " + std::to_string(length) + " bytes but only " +
                       std::to_string(in_.size() - pos_) + " follow"));
    }
    Entry entry{Kind::String};
    if (length <= kKeptText) entry.text = std::make_shared<const std::string>(in_.substr(pos_, length));
    pos_ += length;
    stack_.push_back(std::move(entry));
  }
  std::string line() {
    const auto end = in_.find('\n', pos_);
    if (end == std::string::npos || end - pos_ > kKeptText) {
      fail("a GLOBAL's name has no end of line");
      pos_ = in_.size();
      return "";
    }
    std::string text = in_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return text;
  }

  // --- the stack --------------------------------------------------------------------------------

  void push_atom() { stack_.push_back({Kind::Atom}); }
  void push_int(int64_t value) {
    Entry entry{Kind::Int};
    entry.number = value;
    stack_.push_back(std::move(entry));
  }
  void push_container() {
    Entry entry{Kind::Container};
    entry.node = std::make_shared<Node>();
    entry.node->open = true;
    stack_.push_back(std::move(entry));
  }
  void push_tuple(std::vector<Entry> items) {
    if (problem_) return;
    Entry entry{Kind::Tuple};
    entry.node = std::make_shared<Node>();
    entry.node->depth = 1 + deepest(items);
    if (!deep_enough_to_refuse(entry.node->depth)) {
      entry.node->items_kept = items.size() <= kKeptItems;
      if (entry.node->items_kept) entry.node->items = std::move(items);
    }
    stack_.push_back(std::move(entry));
  }
  void push_object(int depth) {
    Entry entry{Kind::Object};
    entry.node = std::make_shared<Node>();
    entry.node->depth = depth;
    if (deep_enough_to_refuse(depth)) return;
    stack_.push_back(std::move(entry));
  }
  static int deepest(const std::vector<Entry>& items) {
    int depth = 0;
    for (const auto& item : items) depth = std::max(depth, item.depth());
    return depth;
  }
  bool deep_enough_to_refuse(int depth) {
    if (depth <= kMaxPickleNesting) return false;
    fail("it nests deeper than " + std::to_string(kMaxPickleNesting) + " levels");
    return true;
  }

  // Values are consumed: an original container that leaves the stack is complete.
  void close(const std::vector<Entry>& items) {
    for (const auto& item : items) {
      if (item.node && !item.from_memo) item.node->open = false;
    }
  }
  std::vector<Entry> pop_values(std::size_t count) {
    if (stack_.size() < count || std::any_of(stack_.end() - static_cast<std::ptrdiff_t>(count), stack_.end(),
                                             [](const Entry& e) { return e.kind == Kind::Mark; })) {
      fail("an opcode takes more values than the stack holds");
      return {};
    }
    std::vector<Entry> items(std::make_move_iterator(stack_.end() - static_cast<std::ptrdiff_t>(count)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(stack_.size() - count);
    close(items);
    return items;
  }
  std::vector<Entry> pop_to_mark() {
    std::size_t mark = stack_.size();
    while (mark > 0 && stack_[mark - 1].kind != Kind::Mark) --mark;
    if (mark == 0) {
      fail("an opcode needs a MARK and there is none");
      return {};
    }
    std::vector<Entry> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(mark - 1);
    close(items);
    return items;
  }
  // Items go into the list or dict `target`: only into an original still being filled.
  void fill(Entry& target, const std::vector<Entry>& items) {
    if (target.kind != Kind::Container) return void(fail("items are added to something that is not a list or dict"));
    if (target.from_memo || !target.node->open) {
      return void(fail(
          "items are added to a list or dict through a reference to it (a structure that changes after it is shared)"));
    }
    target.node->depth = std::max(target.node->depth, 1 + deepest(items));
    deep_enough_to_refuse(target.node->depth);
  }

  // Python's pickler may leave gaps between memo indices; LibTorch fills a gap with None, one
  // entry per index. An index is allowed as far as a pickle of this size could honestly count
  // (each write takes at least two bytes), so a 459-byte file cannot ask for 2^32 entries.
  void memo_put(uint64_t index) {
    if (problem_) return;
    if (stack_.empty() || stack_.back().kind == Kind::Mark) return void(fail("a memo write with nothing to write"));
    if (index > in_.size()) {
      return void(fail("memo index " + std::to_string(index) + " is beyond what a pickle of " +
                       std::to_string(in_.size()) + " bytes writes"));
    }
    Entry entry = stack_.back();
    entry.from_memo = true;
    memo_[index] = std::move(entry);
    memo_end_ = std::max<uint64_t>(memo_end_, index + 1);
  }
  void memo_get(uint64_t index) {
    if (problem_) return;
    const auto found = memo_.find(index);
    if (found == memo_.end()) {
      if (index >= memo_end_) return void(fail("memo index " + std::to_string(index) + " was never written"));
      return push_atom();  // a gap LibTorch filled with None
    }
    const Entry& entry = found->second;
    if (entry.node && entry.node->open) return void(fail("a list or dict refers to itself"));
    stack_.push_back(entry);
  }

  // --- globals and calls ------------------------------------------------------------------------

  void global() {
    const std::string module = line();
    const std::string name = line();
    if (problem_) return;
    const std::string full = module + "." + name;
    Entry entry{Kind::Global};
    if (module == "torch" && (storage_type(name).second > 0 || is_quantization_scheme(name))) {
      entry.kind = Kind::ScalarType;
      entry.number = storage_type(name).second;  // the itemsize (0: a quantization scheme)
      stack_.push_back(std::move(entry));
      return;
    }
    static const char* const kCallable[] = {"torch._utils._rebuild_tensor_v2",
                                            "torch._utils._rebuild_qtensor",
                                            "torch.jit._pickle.restore_type_tag",
                                            "torch.jit._pickle.build_intlist",
                                            "torch.jit._pickle.build_tensorlist",
                                            "torch.jit._pickle.build_doublelist",
                                            "torch.jit._pickle.build_boollist",
                                            "torch.jit._pickle.build_tensor_from_id",
                                            "__main__.TensorID",
                                            "__main__.IntList",
                                            "collections.OrderedDict",
                                            "builtins.complex",
                                            "torch.device"};
    const bool known = std::find(std::begin(kCallable), std::end(kCallable), full) != std::end(kCallable);
    const bool torchscript = options_.allow_torchscript_objects && module.rfind("__torch__", 0) == 0;
    if (!known && !torchscript) {
      return void(fail("it names the global '" + full +
                       "', which fulgur does not load (only tensors, containers and "
                       "LibTorch's own type tags)"));
    }
    entry.node = std::make_shared<Node>();
    entry.node->name = full;
    stack_.push_back(std::move(entry));
  }

  // NEWOBJ drops the (empty) arguments: the class stays for the BUILD that follows.
  void new_object() {
    pop_values(1);
    if (!problem_ && (stack_.empty() || stack_.back().kind != Kind::Global))
      fail("NEWOBJ on something that is not a class");
  }

  // LibTorch treats REDUCE and BUILD alike: the value below the argument is called with it.
  void call(bool build) {
    auto values = pop_values(2);
    if (problem_) return;
    const Entry& callable = values[0];
    const Entry& argument = values[1];
    if (callable.kind != Kind::Global) {
      return void(
          fail(std::string(build ? "BUILD" : "REDUCE") + " calls something that is not a function the pickle named"));
    }
    const std::string& name = callable.node->name;
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_qtensor") {
      check_tensor(argument);
      push_object(1);
    } else if (name == "torch.jit._pickle.restore_type_tag") {
      const auto* items = tuple_items(argument, 2);
      if (!items) return void(fail("restore_type_tag takes a value and a type"));
      check_type_tag((*items)[1]);
      Entry value = (*items)[0];
      stack_.push_back(std::move(value));
    } else if (name.rfind("torch.jit._pickle.build_", 0) == 0 && name != "torch.jit._pickle.build_tensor_from_id") {
      const auto* items = tuple_items(argument, 1);
      if (!items) return void(fail(name + " takes one list"));
      Entry value = (*items)[0];
      stack_.push_back(std::move(value));
    } else if (name == "__main__.IntList") {
      Entry value = argument;
      stack_.push_back(std::move(value));
    } else {
      push_object(1 + argument.depth());
    }
  }

  const std::vector<Entry>* tuple_items(const Entry& entry, std::size_t at_least) {
    if (entry.kind != Kind::Tuple || !entry.node->items_kept || entry.node->items.size() < at_least) return nullptr;
    return &entry.node->items;
  }

  // LibTorch's type parser recurses once per bracket.
  void check_type_tag(const Entry& type) {
    if (type.kind != Kind::String || !type.text) return void(fail("a type tag that is not a short string"));
    std::size_t depth = 0;
    for (const char c : *type.text) {
      if (c == '[' || c == '(') ++depth;
      if (depth > kMaxTypeTagDepth)
        return void(fail("a type tag nests deeper than " + std::to_string(kMaxTypeTagDepth) + " levels"));
      if ((c == ']' || c == ')') && depth > 0) --depth;
    }
  }

  // ('storage', torch.XStorage, key, device, numel): the record "<prefix><key>" must hold the
  // bytes numel elements take.
  void persistent_id() {
    auto values = pop_values(1);
    if (problem_) return;
    const auto* items = tuple_items(values[0], 5);
    if (!items || (*items)[0].kind != Kind::String || !(*items)[0].text || *(*items)[0].text != "storage" ||
        (*items)[1].kind != Kind::ScalarType || (*items)[1].number <= 0 || (*items)[2].kind != Kind::String ||
        !(*items)[2].text || (*items)[4].kind != Kind::Int) {
      return void(fail("a persistent id that is not ('storage', type, key, device, numel)"));
    }
    const int64_t numel = (*items)[4].number;
    const int64_t itemsize = (*items)[1].number;
    const std::string record = options_.storage_prefix + *(*items)[2].text;
    if (numel < 0) return void(fail("storage '" + record + "' declares " + std::to_string(numel) + " elements"));
    const auto bytes = multiply_add(numel, itemsize, 0);
    if (!bytes)
      return void(
          fail("storage '" + record + "' declares " + std::to_string(numel) + " elements, more than any file holds"));
    if (numel > 0) {
      if (!options_.records) return void(fail("storage record '" + record + "' is missing"));
      const auto found = options_.records->find(record);
      if (found == options_.records->end()) return void(fail("storage record '" + record + "' is missing"));
      if (found->second < static_cast<uint64_t>(*bytes)) {
        return void(fail("storage record '" + record + "' holds " + std::to_string(found->second) +
                         " bytes but declares " + std::to_string(numel) + " elements of " + std::to_string(itemsize) +
                         " bytes (" + std::to_string(*bytes) + ")"));
      }
    }
    Entry entry{Kind::Storage};
    entry.node = std::make_shared<Node>();
    entry.node->numel = numel;
    entry.node->itemsize = itemsize;
    stack_.push_back(std::move(entry));
  }

  // (storage, offset, size, stride, ...): every element the view can address lies in the storage.
  void check_tensor(const Entry& argument) {
    const auto* items = tuple_items(argument, 4);
    if (!items || (*items)[0].kind != Kind::Storage || (*items)[1].kind != Kind::Int) {
      return void(fail("a tensor is rebuilt from something that is not (storage, offset, size, stride, ...)"));
    }
    const Node& storage = *(*items)[0].node;
    const int64_t offset = (*items)[1].number;
    const auto* sizes = tuple_items((*items)[2], 0);
    const auto* strides = tuple_items((*items)[3], 0);
    if (!sizes || !strides || sizes->size() != strides->size()) {
      return void(fail("a tensor's sizes and strides are not two tuples of the same length"));
    }
    int64_t last = offset;  // the highest element index the view reaches
    bool empty = false;
    for (std::size_t d = 0; d < sizes->size(); ++d) {
      if ((*sizes)[d].kind != Kind::Int || (*strides)[d].kind != Kind::Int)
        return void(fail("a tensor's size or stride is not an integer"));
      const int64_t size = (*sizes)[d].number;
      const int64_t stride = (*strides)[d].number;
      if (size < 0 || stride < 0) {
        return void(fail("a tensor has size " + std::to_string(size) + " and stride " + std::to_string(stride) +
                         " in dimension " + std::to_string(d)));
      }
      if (size == 0) empty = true;
      const auto reach = size == 0 ? std::optional<int64_t>(last) : multiply_add(size - 1, stride, last);
      if (!reach) return void(fail("a tensor's sizes and strides reach past any storage"));
      last = *reach;
    }
    if (offset < 0 || offset > storage.numel || (!empty && last >= storage.numel)) {
      return void(fail("a tensor (offset " + std::to_string(offset) + ", sizes and strides reaching element " +
                       std::to_string(last) + ") reaches past its storage of " + std::to_string(storage.numel) +
                       " elements"));
    }
  }

  const std::string& in_;
  const PickleScanOptions& options_;
  std::size_t pos_ = 0;
  std::size_t at_ = 0;  // where the current opcode starts
  std::vector<Entry> stack_;
  std::unordered_map<uint64_t, Entry> memo_;
  uint64_t memo_end_ = 0;  // one past the highest index written
  std::optional<std::string> problem_;
};

}  // namespace

std::optional<std::string> scan_pickle(const std::string& pickle, const PickleScanOptions& options) {
  return Scanner(pickle, options).run();
}

}  // namespace fulgur::detail
