#include "fulgur/transformed_dataset.h"

#include "fulgur/error.h"

namespace fulgur {

TransformedDataset::TransformedDataset(std::shared_ptr<Dataset> dataset, Transform transform)
    : dataset_(std::move(dataset)), transform_(std::move(transform)) {
  if (!dataset_) throw Error("TransformedDataset: no dataset given");
  if (!transform_) throw Error("TransformedDataset: no transform given");
}

}  // namespace fulgur
