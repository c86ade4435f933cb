// Two processes under ddp (CPU, Gloo), each validating its own uneven part of the samples: every
// logged metric, synced before compute, equals one process's value over all the samples. Sum
// states are all-reduced, sample states (AUROC, Spearman) gathered with uneven lengths, Pearson's
// moments merged, and a compute group synced once for its members.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

namespace {

struct WorkerRun {
  int status = -1;
  std::string output;
};

WorkerRun run(const std::string& arguments) {
  WorkerRun result;
  FILE* pipe = popen((std::string(FULGUR_METRICS_DDP_WORKER) + " " + arguments + " 2>&1").c_str(), "r");
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) result.output += buffer;
  result.status = pipe ? pclose(pipe) : -1;
  return result;
}

// "rank R name value" lines: value by (rank, name).
std::map<std::pair<int, std::string>, double> values(const std::string& output) {
  std::map<std::pair<int, std::string>, double> out;
  std::istringstream lines(output);
  std::string word, name;
  int rank = 0;
  double value = 0;
  while (lines >> word) {
    if (word != "rank") continue;
    if (lines >> rank >> name >> value) out[{rank, name}] = value;
  }
  return out;
}

TEST(MetricsDdp, SyncedValuesEqualOneProcessOverTheSameSamples) {
  const WorkerRun one = run("");
  ASSERT_EQ(one.status, 0) << one.output;
  const WorkerRun two = run("--strategy ddp --devices 2");
  ASSERT_EQ(two.status, 0) << two.output;
  const auto single = values(one.output);
  const auto synced = values(two.output);
  const char* names[] = {"acc", "auroc", "pearson", "spearman", "mean_error", "max_error", "f1", "precision"};
  for (const char* name : names) {
    ASSERT_TRUE(single.count({0, name})) << name << "\n" << one.output;
    const double expected = single.at({0, name});
    EXPECT_NE(expected, -1.0) << name << " was not logged";
    for (int rank : {0, 1}) {
      ASSERT_TRUE(synced.count({rank, name})) << name << "\n" << two.output;
      EXPECT_NEAR(synced.at({rank, name}), expected, 2e-6) << name << " on rank " << rank;
    }
  }
}

}  // namespace
