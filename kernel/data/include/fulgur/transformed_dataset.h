// fulgur::TransformedDataset: a per-sample transform over another dataset, as the `transform=`
// argument of torchvision's datasets. The transform runs in get(), so in the loader's worker
// threads when it has any; it must then be safe to call concurrently.
//
//   auto augmented = std::make_shared<fulgur::TransformedDataset>(train, [](fulgur::Batch sample) {
//     auto [x, y] = sample.unpack<2>();
//     return fulgur::Batch::list({(x - 0.5) / 0.5, y});
//   });
#pragma once

#include <functional>
#include <memory>

#include "fulgur/dataset.h"

namespace fulgur {

class TransformedDataset : public Dataset {
 public:
  using Transform = std::function<Batch(Batch)>;
  /// Neither may be null.
  TransformedDataset(std::shared_ptr<Dataset> dataset, Transform transform);

  Batch get(int64_t index) override { return transform_(dataset_->get(index)); }
  int64_t size() const override { return dataset_->size(); }

 private:
  std::shared_ptr<Dataset> dataset_;
  Transform transform_;
};

}  // namespace fulgur
