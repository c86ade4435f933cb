// Everything about data, in one include: batches, datasets, loaders, data modules.
#pragma once

#include "fulgur/batch.h"
#include "fulgur/collate.h"
#include "fulgur/csv_dataset.h"
#include "fulgur/data_loader.h"
#include "fulgur/data_loaders.h"
#include "fulgur/data_module.h"
#include "fulgur/dataset.h"
#include "fulgur/dataset_loader.h"
#include "fulgur/dataset_splits.h"
#include "fulgur/file_dataset.h"
#include "fulgur/tensor_data_loader.h"
#include "fulgur/tensor_dataset.h"
#include "fulgur/torch_data_loader.h"
#include "fulgur/transformed_dataset.h"
