// Emitting a hook costs no heap allocation, with or without slots connected.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "fulgur/plugin.h"
#include "testing.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> allocations{0};
std::vector<int>* witness = nullptr;
}  // namespace

// Counts every allocation of this test program while `counting` is set.
void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }

namespace fulgur {
namespace {

struct Counter : Plugin {
  int64_t calls = 0;
  std::string name() const override { return "counter"; }
  void attach(HookBus& bus) override {
    connect(bus.on_train_batch_start, [this](BatchStartHook&) { ++calls; });
    connect(
        bus.on_before_backward, [this](BeforeBackwardHook&) { ++calls; }, SlotGroup::Precision);
    connect(
        bus.on_before_backward, [this](BeforeBackwardHook&) { ++calls; }, SlotGroup::Logger);
  }
};

TEST(HookBus, EmittingAllocatesNothing) {
  Trainer trainer;
  auto& counter = static_cast<Counter&>(trainer.add_plugin(std::make_unique<Counter>()));
  HookBus& bus = trainer.hooks();
  Batch batch = Batch::list({torch::zeros({2, 2}), torch::zeros({2})});
  torch::Tensor loss = torch::zeros({});
  BatchStartHook start{trainer, batch, 0};
  BeforeBackwardHook before{trainer, loss};
  AfterBackwardHook after{trainer};  // a hook without slots

  // The counter does see allocations made while it counts.
  counting = true;
  witness = new std::vector<int>(8);  // stored in a global, so the compiler cannot elide it
  counting = false;
  delete witness;
  ASSERT_EQ(allocations.exchange(0), 2);  // the vector and its buffer

  bus.on_train_batch_start(start);  // warm-up: signals2 may tidy its lists on first use
  bus.on_before_backward(before);
  counting = true;
  for (int i = 0; i < 1000; ++i) {
    bus.on_train_batch_start(start);
    bus.on_before_backward(before);
    bus.on_after_backward(after);
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0);
  EXPECT_EQ(counter.calls, 3 + 3000);
}

TEST(HookBus, DestroyedPluginLeavesNoSlotBehind) {
  HookBus bus;
  {
    Counter counter;
    counter.attach(bus);
    EXPECT_EQ(bus.on_before_backward.num_slots(), 2u);
  }
  EXPECT_EQ(bus.on_before_backward.num_slots(), 0u);
}

}  // namespace
}  // namespace fulgur
