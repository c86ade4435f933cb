// ddp with two real processes on loopback (CPU, Gloo): the weights of 2 ranks x batch B equal
// those of one process with batch 2B over the same sample order; self-launch and an external
// launcher agree; resuming from a DDP checkpoint; a rank that dies; a wrong world size; a port
// in use. Each case runs tests/support/ddp_worker.cpp.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "testing.h"

namespace fulgur {
namespace {

struct Result {
  int status;
  std::string output;
  double seconds;
};

Result run(const std::string& command) {
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::string output;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pipe ? pclose(pipe) : -1;
  return {status, output, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

std::string worker(const std::string& arguments) { return std::string(FULGUR_DDP_WORKER) + " " + arguments; }

torch::Tensor weights(const std::string& path) {
  torch::Tensor tensor;
  torch::load(tensor, path);
  return tensor;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

class DDP : public ::testing::Test {
 protected:
  std::string dir = testing::temp_dir("ddp");
};

TEST_F(DDP, TwoRanksEqualOneProcessWithTheDoubleBatch) {
  const auto two = run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 3 --out " + dir + "/two.pt"));
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_NE(two.output.find("rank 0 of 2: 24 steps, rank_mean 0.50"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("rank 1 of 2: 24 steps, rank_mean 0.50"), std::string::npos) << two.output;  // sync_dist
  const auto one = run(worker("--batch-size 8 --max-epochs 3 --out " + dir + "/one.pt"));
  ASSERT_EQ(one.status, 0) << one.output;
  const auto a = weights(dir + "/two.pt");
  const auto b = weights(dir + "/one.pt");
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6)) << (a - b).abs().max().item<double>();
}

// The all-reduce overlapped with backward, bucket by bucket (tiny buckets: one per parameter),
// with accumulation windows: the same weights as reducing everything at the step, and as one
// process over the double batch.
TEST_F(DDP, OverlappedAllReduceGivesTheWeightsOfTheReductionAtTheStep) {
  const std::string args = " --strategy ddp --devices 2 --batch-size 4 --max-epochs 2 --accumulate-grad-batches 2";
  const auto overlapped =
      run(worker(args + " --plugin ddp:devices=2,bucket_mb=0.000001,overlap=true --out " + dir + "/overlapped.pt"));
  ASSERT_EQ(overlapped.status, 0) << overlapped.output;
  // The weight's and the bias's buckets both started inside backward, before the step.
  EXPECT_NE(overlapped.output.find("rank 0: gradients in 2 bucket(s); 2 started their all-reduce during the last "
                                   "step's backward"),
            std::string::npos)
      << overlapped.output;
  const auto at_step =
      run(worker(args + " --plugin ddp:devices=2,bucket_mb=0.000001,overlap=false --out " + dir + "/at_step.pt"));
  ASSERT_EQ(at_step.status, 0) << at_step.output;
  EXPECT_EQ(at_step.output.find("started their all-reduce"), std::string::npos);
  const auto one = run(worker("--batch-size 8 --max-epochs 2 --accumulate-grad-batches 2 --out " + dir + "/one.pt"));
  ASSERT_EQ(one.status, 0) << one.output;
  const auto a = weights(dir + "/overlapped.pt");
  EXPECT_TRUE(torch::allclose(a, weights(dir + "/at_step.pt"), 0, 1e-7));
  EXPECT_TRUE(torch::allclose(a, weights(dir + "/one.pt"), 1e-5, 1e-6)) << (a - weights(dir + "/one.pt")).abs().max();
}

// Dict batches with strings and ints, from a worker thread, sharded by the DatasetLoader: the same
// weights as the tensor loader's run over the same samples in the same order.
TEST_F(DDP, DictBatchesFromADatasetLoaderTrainLikeTensorBatches) {
  const auto tensors =
      run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 2 --out " + dir + "/tensors.pt"));
  ASSERT_EQ(tensors.status, 0) << tensors.output;
  const auto dicts =
      run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 2 --dict-batches --out " + dir + "/dicts.pt"));
  ASSERT_EQ(dicts.status, 0) << dicts.output;
  const auto a = weights(dir + "/tensors.pt");
  const auto b = weights(dir + "/dicts.pt");
  EXPECT_TRUE(torch::allclose(a, b, 0, 1e-6)) << (a - b).abs().max().item<double>();
}

TEST_F(DDP, PrepareDataRunsOncePerMachineAndTheOthersWaitForIt) {
  const std::string log = dir + "/prepared.txt";
  const auto result = run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 1 --prepare-log " + log));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(testing::read_lines(log), (std::vector<std::string>{"prepared by rank 0"}));
  EXPECT_NE(result.output.find("rank 0: prepared before setup: yes"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("rank 1: prepared before setup: yes"), std::string::npos) << result.output;
}

TEST_F(DDP, ExternalLauncherGivesTheSameRun) {
  const auto self = run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 2 --out " + dir + "/self.pt"));
  ASSERT_EQ(self.status, 0) << self.output;
  // torchrun's contract, set by hand: two processes started together.
  const std::string common = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) + " WORLD_SIZE=2 ";
  const std::string args = " --strategy ddp --devices 2 --batch-size 4 --max-epochs 2";
  const auto launched = run("sh -c '" + common + "RANK=1 LOCAL_RANK=1 " + worker(args) + " > " + dir +
                            "/rank1.log 2>&1 & " + common + "RANK=0 LOCAL_RANK=0 " +
                            worker(args + " --out " + dir + "/launched.pt") + "; status=$?; wait $! && exit $status'");
  ASSERT_EQ(launched.status, 0) << launched.output << testing::read_lines(dir + "/rank1.log").size();
  EXPECT_TRUE(torch::equal(weights(dir + "/self.pt"), weights(dir + "/launched.pt")));
}

TEST_F(DDP, ResumeFromADdpCheckpoint) {
  const std::string args = " --strategy ddp --devices 2 --batch-size 4";
  const auto whole = run(worker(args + " --max-epochs 3 --out " + dir + "/whole.pt"));
  ASSERT_EQ(whole.status, 0) << whole.output;
  const auto first = run(worker(args + " --max-epochs 1 --save " + dir + "/one_epoch.ckpt"));
  ASSERT_EQ(first.status, 0) << first.output;
  const auto rest =
      run(worker(args + " --max-epochs 3 --ckpt-path " + dir + "/one_epoch.ckpt --out " + dir + "/resumed.pt"));
  ASSERT_EQ(rest.status, 0) << rest.output;
  EXPECT_TRUE(torch::allclose(weights(dir + "/whole.pt"), weights(dir + "/resumed.pt"), 1e-6, 1e-7));
}

TEST_F(DDP, ARankThatDiesEndsTheRunWithAClearErrorNotAHang) {
  const auto result =
      run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 3 --die-rank 1 --die-at-step 3"));
  EXPECT_NE(result.status, 0) << result.output;
  EXPECT_LT(result.seconds, 60.0);
  EXPECT_NE(result.output.find("ddp: rank 0: all_reduce failed: another rank died"), std::string::npos)
      << result.output;
}

TEST_F(DDP, AStopWantedByOneRankStopsAllTogether) {
  const auto result =
      run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 5 --stop-rank 1 --stop-epoch 1"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("rank 0 of 2: 16 steps"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("rank 1 of 2: 16 steps"), std::string::npos) << result.output;
}

TEST_F(DDP, RanksWithDifferentModelsFailNamingTheTensorNotAbortingInGloo) {
  const auto result = run(worker("--strategy ddp --devices 2 --max-epochs 1 --wide-rank 1"));
  EXPECT_NE(result.status, 0) << result.output;
  EXPECT_LT(result.seconds, 30.0);
  EXPECT_NE(result.output.find("ddp: rank 1's model differs from rank 0's: 'linear.weight' has shape [2, 5] here but "
                               "[2, 4] on rank 0"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("ddp: rank 1's model differs from rank 0's (that rank's error names the tensor)"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("preamble"), std::string::npos) << result.output;  // Gloo's abort
}

// `kill PID` reaches the process the user started (rank 0) only: all ranks must still stop at
// the same batch, save on_exception.ckpt between the same barriers, and exit well before the
// collective timeout; the saved file resumes to the uninterrupted result.
TEST_F(DDP, SigtermToOneRankStopsAllRanksTogetherAndSaves) {
  const std::string args = " --strategy ddp --devices 2 --batch-size 4 --default-root-dir " + dir;
  const auto whole = run(worker(args + " --max-epochs 3 --out " + dir + "/whole.pt"));
  ASSERT_EQ(whole.status, 0) << whole.output;
  const auto stopped =
      run(worker(args + " --max-epochs 3 --plugin on_exception_checkpoint --signal-rank 0 --signal-at-step 5"));
  EXPECT_NE(stopped.status, 0) << stopped.output;
  EXPECT_LT(stopped.seconds, 30.0) << stopped.output;
  EXPECT_NE(stopped.output.find("fit interrupted by SIGTERM at epoch 0 after batch 5"), std::string::npos)
      << stopped.output;
  EXPECT_NE(stopped.output.find("fit interrupted at epoch 0 after batch 5: another rank received SIGINT or SIGTERM"),
            std::string::npos)
      << stopped.output;
  const std::string saved = dir + "/checkpoints/on_exception.ckpt";
  ASSERT_TRUE(std::filesystem::exists(saved)) << stopped.output;
  const auto resumed = run(worker(args + " --max-epochs 3 --ckpt-path " + saved + " --out " + dir + "/resumed.pt"));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_TRUE(torch::allclose(weights(dir + "/whole.pt"), weights(dir + "/resumed.pt"), 1e-6, 1e-7));
}

// A monitored value that improves on rank 0 only: every rank must still enter the same
// checkpoint saves (rank 0's decision), or one waits in save_checkpoint's barrier alone.
TEST_F(DDP, CheckpointDecisionsAreTheSameOnEveryRank) {
  const auto result =
      run(worker("--strategy ddp --devices 2 --batch-size 4 --max-epochs 3 --default-root-dir " + dir +
                 " --plugin ddp:devices=2,timeout=20 --plugin model_checkpoint:monitor=rank_trend,save_top_k=1"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_LT(result.seconds, 20.0) << result.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/checkpoints/epoch=2-step=24.ckpt")) << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/checkpoints/epoch=1-step=16.ckpt")) << result.output;
}

TEST_F(DDP, WrongWorldSizeIsNamed) {
  const auto result = run("WORLD_SIZE=3 RANK=0 " + worker("--strategy ddp --devices 2"));
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.output.find("the launcher's world size is 3 but devices x num_nodes is 2 x 1 = 2"),
            std::string::npos)
      << result.output;
}

TEST_F(DDP, LauncherNumbersOutOfRangeAreNamed) {
  auto result = run("MASTER_PORT=70000 " + worker("--strategy ddp --devices 2"));
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.output.find("ddp: MASTER_PORT=70000 is not a TCP port (1 to 65535)"), std::string::npos)
      << result.output;
  result = run("WORLD_SIZE=2 RANK=1 LOCAL_RANK=-1 " + worker("--strategy ddp --devices 2"));
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.output.find("LOCAL_RANK=-1 and NODE_RANK=0 must be >= 0"), std::string::npos) << result.output;
}

TEST_F(DDP, PortInUseIsAClearError) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  const auto result = run("MASTER_PORT=" + std::to_string(port) + " " +
                          worker("--strategy ddp --devices 2 --plugin ddp:devices=2,timeout=10"));
  ::close(fd);
  EXPECT_NE(result.status, 0);
  EXPECT_LT(result.seconds, 30.0);
  EXPECT_NE(result.output.find("could not serve the rendezvous store at 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << result.output;
  // The store is bound before any rank starts: no rank 1 was started to join a stranger's store.
  EXPECT_EQ(result.output.find("rank 1"), std::string::npos) << result.output;
}

// Two jobs given the same MASTER_PORT (two terminals with torchrun's default): the second fails
// naming the port, starts no rank, and the first trains exactly as it does alone.
TEST_F(DDP, TwoJobsOnOnePortDoNotMerge) {
  const std::string args = "--strategy ddp --devices 2 --batch-size 4 --max-epochs 300";
  const auto solo = run(worker(args + " --out " + dir + "/solo.pt"));
  ASSERT_EQ(solo.status, 0) << solo.output;
  const std::string port = std::to_string(free_port());
  // Job b starts once job a's ranks have joined, while a trains.
  const auto both =
      run("sh -c 'MASTER_PORT=" + port + " " + worker(args + " --out " + dir + "/a.pt") + " > " + dir +
          "/a.log 2>&1 & a=$!; for i in $(seq 600); do grep -q \"joined job\" " + dir +
          "/a.log && break; sleep 0.05; done; MASTER_PORT=" + port + " " + worker(args + " --out " + dir + "/b.pt") +
          "; b=$?; wait $a; a=$?; echo \"job a: $a, job b: $b\"'");
  EXPECT_NE(both.output.find("job a: 0, job b: 1"), std::string::npos) << both.output;
  EXPECT_NE(both.output.find("another job on this machine may have the same MASTER_PORT"), std::string::npos)
      << both.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/b.pt"));
  EXPECT_TRUE(torch::equal(weights(dir + "/solo.pt"), weights(dir + "/a.pt")));
}

// Under a launcher: a process of another job (its id in its environment) that reaches this job's
// store is refused by name, and this job's own rank then joins; a rank with other options fails
// the whole job, naming them.
TEST_F(DDP, AStrangerRankIsRefusedAndRanksWithOtherOptionsFailTheJob) {
  const std::string common = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) + " WORLD_SIZE=2 ";
  const std::string args =
      " --strategy ddp --devices 2 --batch-size 4 --plugin ddp:devices=2,timeout=15 --max-epochs 2";
  const auto joined =
      run("sh -c '" + common + "RANK=0 LOCAL_RANK=0 " + worker(args + " --out " + dir + "/mine.pt") + " > " + dir +
          "/rank0.log 2>&1 & zero=$!; sleep 1; " + common + "RANK=1 LOCAL_RANK=1 FULGUR_DDP_JOB_ID=0123456789abcdef " +
          worker(args) + "; echo \"stranger: $?\"; " + common + "RANK=1 LOCAL_RANK=1 " + worker(args) + " > " + dir +
          "/rank1.log 2>&1; wait $zero; echo \"rank 0: $?\"'");
  EXPECT_NE(joined.output.find("rank 1 belongs to job 0123456789abcdef, but the store at 127.0.0.1:"),
            std::string::npos)
      << joined.output;
  EXPECT_NE(joined.output.find("stranger: 1"), std::string::npos) << joined.output;
  EXPECT_NE(joined.output.find("rank 0: 0"), std::string::npos) << joined.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/mine.pt"));

  const std::string other = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) + " WORLD_SIZE=2 ";
  const auto differing = run(
      "sh -c '" + other + "RANK=1 LOCAL_RANK=1 " +
      worker(" --strategy ddp --devices 2 --batch-size 4 --plugin ddp:devices=2,timeout=15 --max-epochs 5") + " > " +
      dir + "/other1.log 2>&1 & " + other + "RANK=0 LOCAL_RANK=0 " + worker(args) + "; echo \"rank 0: $?\"; wait $!'");
  EXPECT_NE(differing.output.find("rank 0: 1"), std::string::npos) << differing.output;
  EXPECT_NE(differing.output.find("rank 1 of job"), std::string::npos) << differing.output;
  EXPECT_NE(differing.output.find("runs with other options than rank 0"), std::string::npos) << differing.output;
  bool named = false;
  for (const auto& line : testing::read_lines(dir + "/other1.log")) {
    named = named || line.find("runs with max_epochs=5") != std::string::npos;
  }
  EXPECT_TRUE(named);
}

// SLURM's warning before preemption (--signal=USR1@90) reaches one process: every rank saves the
// same hpc_ckpt_1.ckpt after the same batch, rank 0 alone requeues the job (a stand-in scontrol
// on PATH records its arguments), training goes on, and ckpt_path "hpc" resumes to the
// uninterrupted weights.
TEST_F(DDP, SigusrToOneRankSavesOnEveryRankAndRequeuesOnce) {
  const std::string args = " --strategy ddp --devices 2 --batch-size 4 --max-epochs 3 --default-root-dir " + dir;
  const auto whole = run(worker(args + " --out " + dir + "/whole.pt"));
  ASSERT_EQ(whole.status, 0) << whole.output;
  std::filesystem::create_directories(dir + "/bin");
  {
    std::ofstream scontrol(dir + "/bin/scontrol");
    scontrol << "#!/bin/sh\necho \"$@\" >> " << dir << "/requeued.txt\n";
  }
  std::filesystem::permissions(dir + "/bin/scontrol", std::filesystem::perms::owner_all);
  const auto warned = run("SLURM_JOB_ID=4242 PATH=" + dir + "/bin:$PATH " +
                          worker(args + " --signal usr1 --signal-rank 1 --signal-at-step 5"));
  ASSERT_EQ(warned.status, 0) << warned.output;
  EXPECT_LT(warned.seconds, 30.0) << warned.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/hpc_ckpt_1.ckpt")) << warned.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/hpc_ckpt_2.ckpt")) << warned.output;
  // Both ranks took part in the one save, after the same batch.
  const auto saved_at = [&](int rank) {
    const std::string mark = "rank " + std::to_string(rank) + ": checkpoint at step ";
    const auto at = warned.output.find(mark);
    return at == std::string::npos ? std::string("none") : warned.output.substr(at + mark.size(), 2);
  };
  EXPECT_NE(saved_at(0), "none") << warned.output;
  EXPECT_EQ(saved_at(0), saved_at(1)) << warned.output;
  EXPECT_EQ(testing::read_lines(dir + "/requeued.txt"), std::vector<std::string>{"requeue 4242"}) << warned.output;
  EXPECT_NE(warned.output.find("Requeued SLURM job: 4242"), std::string::npos) << warned.output;
  const auto resumed = run(worker(args + " --ckpt-path hpc --out " + dir + "/resumed.pt"));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_TRUE(torch::equal(weights(dir + "/whole.pt"), weights(dir + "/resumed.pt")));
}

}  // namespace
}  // namespace fulgur
