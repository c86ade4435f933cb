#include "elf_symbol_reader.h"

#include "regular_file.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "fulgur/error.h"

namespace fulgur::detail {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kThisMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kThisMachine = EM_AARCH64;
#elif defined(__powerpc64__)
constexpr uint16_t kThisMachine = EM_PPC64;
#elif defined(__riscv)
constexpr uint16_t kThisMachine = EM_RISCV;
#elif defined(__s390x__)
constexpr uint16_t kThisMachine = EM_S390;
#else
#error "fulgur's plugin host: add this CPU's ELF machine number"
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kThisByteOrder = ELFDATA2LSB;
#else
constexpr unsigned char kThisByteOrder = ELFDATA2MSB;
#endif

std::string machine_name(uint16_t machine) {
  switch (machine) {
    case EM_X86_64:
      return "x86-64";
    case EM_AARCH64:
      return "aarch64 (64-bit Arm)";
    case EM_386:
      return "x86 (32-bit)";
    case EM_ARM:
      return "32-bit Arm";
    case EM_PPC64:
      return "ppc64";
    case EM_RISCV:
      return "riscv";
    case EM_S390:
      return "s390x";
    default:
      return "another CPU (ELF machine " + std::to_string(machine) + ")";
  }
}

class ElfFile {
 public:
  explicit ElfFile(const std::string& path) : path_(path) {
    // Only a regular file, only its size: a plugin path linked to /dev/zero is named, not read.
    // An empty file is named below, with the other truncated ones.
    try {
      bytes_ = detail::read_regular_file(path, "plugin", /*allow_empty=*/true);
    } catch (const Error& error) {
      throw PluginError("cannot load plugin '" + path + "': " + error.what());
    }
    if (bytes_.size() < 4) {
      throw PluginError("cannot load plugin '" + path + "': the file is empty or truncated (" +
                        std::to_string(bytes_.size()) + " bytes), not a shared library");
    }
    if (std::memcmp(bytes_.data(), ELFMAG, SELFMAG) != 0) {
      throw PluginError("cannot load plugin '" + path + "': not an ELF shared library");
    }
    header_ = at<Elf64_Ehdr>(0, "ELF header");
    if (header_.e_ident[EI_CLASS] != ELFCLASS64 || header_.e_type != ET_DYN) {
      throw PluginError("cannot load plugin '" + path + "': not a 64-bit ELF shared library");
    }
    // dlopen would refuse another CPU's library with a misleading "No such file or directory".
    if (header_.e_machine != kThisMachine || header_.e_ident[EI_DATA] != kThisByteOrder) {
      throw PluginError("cannot load plugin '" + path + "': it was built for " + machine_name(header_.e_machine) +
                        (header_.e_ident[EI_DATA] != kThisByteOrder ? " (other byte order)" : "") +
                        ", but this process runs on " + machine_name(kThisMachine) +
                        "; rebuild the plugin for this machine");
    }
  }

  template <typename T>
  T at(std::size_t offset, const char* what) const {
    if (offset > bytes_.size() || bytes_.size() - offset < sizeof(T)) {
      throw PluginError("cannot load plugin '" + path_ + "': the file is truncated (its " + what + " lies beyond its " +
                        std::to_string(bytes_.size()) + " bytes)");
    }
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }

  Elf64_Shdr section(std::size_t index) const {
    if (index >= header_.e_shnum) {
      throw PluginError("cannot load plugin '" + path_ + "': malformed ELF (section " + std::to_string(index) + " of " +
                        std::to_string(header_.e_shnum) + ")");
    }
    return at<Elf64_Shdr>(header_.e_shoff + index * sizeof(Elf64_Shdr), "section table");
  }

  std::string string_at(std::size_t offset, std::size_t limit) const {
    if (offset >= bytes_.size()) throw PluginError("cannot load plugin '" + path_ + "': the file is truncated");
    const char* start = bytes_.data() + offset;
    const std::size_t available = std::min(limit, bytes_.size() - offset);
    return std::string(start, strnlen(start, available));
  }

  const Elf64_Ehdr& header() const { return header_; }

 private:
  std::string path_;
  std::vector<char> bytes_;
  Elf64_Ehdr header_{};
};

}  // namespace

std::optional<std::string> read_exported_string(const std::string& path, const std::string& symbol) {
  const ElfFile elf(path);
  for (std::size_t s = 0; s < elf.header().e_shnum; ++s) {
    const Elf64_Shdr symbols = elf.section(s);
    if (symbols.sh_type != SHT_DYNSYM || symbols.sh_entsize != sizeof(Elf64_Sym)) continue;
    const Elf64_Shdr names = elf.section(symbols.sh_link);
    for (std::size_t i = 0; i < symbols.sh_size / sizeof(Elf64_Sym); ++i) {
      const auto entry = elf.at<Elf64_Sym>(symbols.sh_offset + i * sizeof(Elf64_Sym), "symbol table");
      if (entry.st_shndx == SHN_UNDEF || entry.st_name >= names.sh_size) continue;
      if (elf.string_at(names.sh_offset + entry.st_name, names.sh_size - entry.st_name) != symbol) continue;
      const Elf64_Shdr holder = elf.section(entry.st_shndx);
      if (holder.sh_type == SHT_NOBITS) return std::string();
      return elf.string_at(holder.sh_offset + (entry.st_value - holder.sh_addr), 256);
    }
  }
  return std::nullopt;
}

}  // namespace fulgur::detail
