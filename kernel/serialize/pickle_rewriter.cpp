#include "pickle_rewriter.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>

namespace fulgur::detail {
namespace {

// --- the pickle ---------------------------------------------------------------------------------

// A walk over the pickle's opcodes that tracks, for each item on the unpickler's stack, the byte
// where the opcodes that built it begin and what it is when that matters. It rewrites what
// LibTorch 1.13's unpickler cannot read into what it can, keeping the meaning:
//   - SETITEM / APPEND (one-item dicts and lists) become MARK ... SETITEMS / APPENDS;
//   - collections.OrderedDict() (Python's state_dict, and each tensor's empty hooks argument),
//     which LibTorch turns into None, becomes an empty dict (EMPTY_DICT where the class was
//     pushed, the call removed); the BUILD that sets an OrderedDict's attributes (state_dict's
//     _metadata) is removed with its argument. LibTorch has no POP, so nothing is popped.
// Only the opcodes of protocols 0-3 that torch.save writes are known; anything else (frames of
// protocol 4, DUP, INST, ...) ends the walk without a rewrite.
class PickleRewriter {
 public:
  explicit PickleRewriter(const std::string& pickle) : in_(pickle) {}

  std::optional<std::string> run() {
    while (pos_ < in_.size()) {
      const std::size_t start = pos_;
      const auto op = static_cast<unsigned char>(in_[pos_++]);
      switch (op) {
        case 0x80:
          skip(1);
          break;  // PROTO
        case '.':
          return edits_.empty() ? std::nullopt : std::optional<std::string>(output());  // STOP
        case '(':
          push(start, Kind::Mark);
          break;  // MARK
        case '}':
          push(start, Kind::Dict);
          break;  // EMPTY_DICT
        case ']':
        case ')':
        case 'N':
        case 0x88:
        case 0x89:  // empty list and tuple, None, bools
          push(start);
          break;
        case 'J':
          skip(4);
          push(start);
          break;  // BININT
        case 'K':
          skip(1);
          push(start);
          break;  // BININT1
        case 'M':
          skip(2);
          push(start);
          break;  // BININT2
        case 'G':
          skip(8);
          push(start);
          break;  // BINFLOAT
        case 0x8a:
          skip(length(1));
          push(start);
          break;  // LONG1
        case 0x8b:
          skip(length(4));
          push(start);
          break;  // LONG4
        case 'X':
        case 'T':
        case 'B':
          skip(length(4));
          push(start);
          break;  // BINUNICODE, BINSTRING, BINBYTES
        case 0x8c:
        case 'U':
        case 'C':
          skip(length(1));
          push(start);
          break;  // short forms
        case 0x8d:
        case 0x8e:
        case 0x96:
          skip(length(8));
          push(start);
          break;  // 8-byte-length forms
        case 'c':
          global(start);
          break;  // GLOBAL module\nname\n
        case 'I':
        case 'L':
        case 'F':
        case 'S':
        case 'V':
        case 'P':
          line();
          push(start);
          break;  // text forms
        case 'g':
          memo_get(start, text_number());
          break;  // GET
        case 'p':
          memo_put(text_number());
          break;  // PUT
        case 'q':
          memo_put(length(1));
          break;  // BINPUT
        case 'r':
          memo_put(length(4));
          break;  // LONG_BINPUT
        case 0x94:
          memo_put(next_memo_);
          break;  // MEMOIZE
        case 'h':
          memo_get(start, length(1));
          break;  // BINGET
        case 'j':
          memo_get(start, length(4));
          break;  // LONG_BINGET
        case 0x82:
          skip(1);
          push(start);
          break;  // EXT1
        case 0x83:
          skip(2);
          push(start);
          break;  // EXT2
        case 0x84:
          skip(4);
          push(start);
          break;  // EXT4
        case 'Q':
          combine(1);
          break;  // BINPERSID
        case 0x85:
          combine(1);
          break;  // TUPLE1
        case 'R':
          reduce(start);
          break;  // REDUCE
        case 0x86:
        case 0x81:
        case 0x93:
          combine(2);
          break;  // TUPLE2, NEWOBJ, STACK_GLOBAL
        case 0x87:
        case 0x92:
          combine(3);
          break;  // TUPLE3, NEWOBJ_EX
        case 'b':
          build(start);
          break;  // BUILD: the object stays
        case 't':
        case 'l':
        case 0x91:
          to_mark(true);
          break;  // TUPLE, LIST, FROZENSET
        case 'd':
          to_mark(true);
          if (!failed_) stack_.back().kind = Kind::Dict;
          break;  // DICT
        case 'u':
        case 'e':
        case 0x90:
          to_mark(false);
          break;  // SETITEMS, APPENDS, ADDITEMS
        case '1':
          to_mark(false);
          stack_.pop_back();
          break;  // POP_MARK (the mark goes too)
        case '0':
          pop(1);
          break;  // POP
        case 's':
          mark_before(2, start, 'u');
          pop(2);
          break;  // SETITEM -> MARK key value SETITEMS
        case 'a':
          mark_before(1, start, 'e');
          pop(1);
          break;  // APPEND  -> MARK value APPENDS
        default:
          return std::nullopt;  // unknown to this walk
      }
      if (failed_) return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  enum class Kind { Other, Mark, Dict, OrderedDictClass };
  struct Item {
    std::size_t start;
    Kind kind = Kind::Other;
    std::size_t op_end = 0;  // where the opcode that pushed it ends
  };
  // Replace [at, at + length) of the input with `text` (length 0: insert).
  struct Edit {
    std::size_t at;
    std::size_t length;
    std::string text;
  };

  void skip(std::size_t count) {
    if (in_.size() - pos_ < count) failed_ = true;
    pos_ = std::min(in_.size(), pos_ + count);
  }
  std::size_t length(std::size_t width) {
    if (in_.size() - pos_ < width) {
      failed_ = true;
      return 0;
    }
    uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i)
      value |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += width;
    return static_cast<std::size_t>(value);
  }
  std::string line() {
    const auto end = in_.find('\n', pos_);
    if (end == std::string::npos) {
      failed_ = true;
      pos_ = in_.size();
      return "";
    }
    std::string text = in_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return text;
  }
  std::size_t text_number() {
    const std::string text = line();
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
      failed_ = true;
      return 0;
    }
    return static_cast<std::size_t>(std::stoull(text));
  }
  void push(std::size_t start, Kind kind = Kind::Other) { stack_.push_back({start, kind, pos_}); }
  void pop(std::size_t count) {
    if (stack_.size() < count) {
      failed_ = true;
      return;
    }
    stack_.resize(stack_.size() - count);
  }
  // Pops `count` items and pushes one built from them: it begins where the first of them began.
  void combine(std::size_t count, Kind kind = Kind::Other) {
    if (stack_.size() < count) {
      failed_ = true;
      return;
    }
    const std::size_t start = stack_[stack_.size() - count].start;
    pop(count);
    push(start, kind);
  }
  void to_mark(bool push_result) {
    while (!stack_.empty() && stack_.back().kind != Kind::Mark) stack_.pop_back();
    if (stack_.empty()) {
      failed_ = true;
      return;
    }
    const std::size_t start = stack_.back().start;
    stack_.pop_back();
    if (push_result) push(start);
  }
  void memo_put(std::size_t index) {
    if (stack_.empty()) {
      failed_ = true;
      return;
    }
    memo_[index] = stack_.back().kind == Kind::OrderedDictClass ? Kind::OrderedDictClass : Kind::Other;
    memo_written_at_[index] = pos_;
    next_memo_ = std::max(next_memo_, index + 1);
  }
  void memo_get(std::size_t start, std::size_t index) {
    // A memo entry whose writing opcode was removed with a BUILD's argument cannot be read.
    for (const auto& [from, to] : removed_) {
      const auto written = memo_written_at_.find(index);
      if (written != memo_written_at_.end() && written->second > from && written->second <= to) failed_ = true;
    }
    const auto found = memo_.find(index);
    push(start, found == memo_.end() ? Kind::Other : found->second);
  }
  void global(std::size_t start) {
    const std::string module = line();
    const std::string name = line();
    push(start, module == "collections" && name == "OrderedDict" ? Kind::OrderedDictClass : Kind::Other);
  }
  // OrderedDict() -> EMPTY_DICT: the opcode that pushed the class (GLOBAL, or BINGET of its memo
  // entry) becomes EMPTY_DICT and the empty arguments and REDUCE go; a memo write in between
  // stays (it then holds a dict, read only by calls rewritten the same way).
  void reduce(std::size_t op_position) {
    if (stack_.size() < 2) {
      failed_ = true;
      return;
    }
    const Item callable = stack_[stack_.size() - 2];
    const Item arguments = stack_.back();
    if (callable.kind == Kind::OrderedDictClass) {
      if (in_[arguments.start] != ')' || arguments.start + 1 != op_position) {
        failed_ = true;  // OrderedDict(...) with items as arguments: not what torch.save writes
        return;
      }
      edits_.push_back({callable.start, callable.op_end - callable.start, "}"});
      edits_.push_back({arguments.start, op_position + 1 - arguments.start, ""});
      combine(2, Kind::Dict);
      return;
    }
    combine(2);
  }
  // BUILD on a dict sets attributes (an OrderedDict's _metadata) a plain dict cannot hold: the
  // argument and the BUILD are removed.
  void build(std::size_t op_position) {
    if (stack_.size() < 2) {
      failed_ = true;
      return;
    }
    if (stack_[stack_.size() - 2].kind == Kind::Dict) {
      const std::size_t from = stack_.back().start;
      // Edits inside the removed range would be applied twice; drop them, it goes whole.
      edits_.erase(std::remove_if(edits_.begin(), edits_.end(), [&](const Edit& edit) { return edit.at >= from; }),
                   edits_.end());
      edits_.push_back({from, op_position + 1 - from, ""});
      removed_.emplace_back(from, op_position + 1);
    }
    pop(1);
  }
  void mark_before(std::size_t depth, std::size_t op_position, char replacement) {
    if (stack_.size() < depth + 1 || stack_[stack_.size() - depth].kind == Kind::Mark) {
      failed_ = true;
      return;
    }
    edits_.push_back({stack_[stack_.size() - depth].start, 0, "("});
    edits_.push_back({op_position, 1, std::string(1, replacement)});
  }

  std::string output() const {
    // Edits come in the order of their opcodes, but a MARK goes before an item built earlier:
    // apply them by position (inserts before a replacement at the same place).
    std::vector<Edit> sorted = edits_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Edit& a, const Edit& b) { return a.at != b.at ? a.at < b.at : a.length < b.length; });
    std::string out;
    out.reserve(in_.size() + 2 * sorted.size());
    std::size_t copied = 0;
    for (const auto& edit : sorted) {
      out.append(in_, copied, edit.at - copied);
      out += edit.text;
      copied = edit.at + edit.length;
    }
    out.append(in_, copied, std::string::npos);
    return out;
  }

  const std::string& in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  std::vector<Item> stack_;
  std::map<std::size_t, Kind> memo_;
  std::map<std::size_t, std::size_t> memo_written_at_;        // memo index -> where its write ended
  std::vector<std::pair<std::size_t, std::size_t>> removed_;  // input ranges a rewrite removes
  std::size_t next_memo_ = 0;
  std::vector<Edit> edits_;
};

}  // namespace

std::optional<std::vector<char>> rewrite_for_libtorch(const std::vector<char>& bytes) {
  using caffe2::serialize::MemoryReadAdapter;
  using caffe2::serialize::PyTorchStreamReader;
  using caffe2::serialize::PyTorchStreamWriter;
  PyTorchStreamReader reader(std::make_shared<MemoryReadAdapter>(bytes.data(), bytes.size()));
  if (!reader.hasRecord("data.pkl")) return std::nullopt;
  const auto [pickle_data, pickle_size] = reader.getRecord("data.pkl");
  const std::string pickle(static_cast<const char*>(pickle_data.get()), pickle_size);
  const auto rewritten = PickleRewriter(pickle).run();
  if (!rewritten) return std::nullopt;

  std::vector<char> out;
  {
    PyTorchStreamWriter writer([&out](const void* data, std::size_t size) {
      out.insert(out.end(), static_cast<const char*>(data), static_cast<const char*>(data) + size);
      return size;
    });
    writer.setMinVersion(reader.version());
    for (const auto& name : reader.getAllRecords()) {
      // The writer adds its own version and bookkeeping records.
      if (name == "version" || name == ".data/version" || name == "byteorder" || name == ".data/serialization_id")
        continue;
      if (name == "data.pkl") {
        writer.writeRecord(name, rewritten->data(), rewritten->size());
        continue;
      }
      const auto [data, size] = reader.getRecord(name);
      writer.writeRecord(name, data.get(), size);
    }
    writer.writeEndOfFile();
  }
  return out;
}

}  // namespace fulgur::detail
