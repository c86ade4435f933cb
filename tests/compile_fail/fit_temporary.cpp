// Must not compile: trainer.fit(Net(), ...) would train a temporary and lose its weights. The
// CTest test compile_fail.fit_temporary builds this file and expects fulgur's message.
#include "fulgur/trainer.h"
#include "testing.h"

void train_a_temporary(fulgur::Trainer& trainer, fulgur::DataLoader& loader) {
  trainer.fit(fulgur::testing::TinyClassifier(), loader);
}
