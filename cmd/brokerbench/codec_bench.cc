// Micro-benchmark of the record batch codec (storage/record_codec.h): the CPU the writer thread
// spends encoding a commit's records into one batch value, and a reader spends walking them.
//
//   build/release/cmd/brokerbench/codec_bench [--benchmark_filter=Encode]
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "broker/types.h"
#include "storage/record_codec.h"

namespace {

using broker::Message;
using broker::TimePoint;
using broker::storage::BatchDecoder;
using broker::storage::BatchEncoder;
using broker::storage::RecordView;

std::string Bytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

Message MakeMessage(size_t payload_bytes, bool with_key_and_headers) {
  Message m;
  m.payload = Bytes(payload_bytes);
  if (with_key_and_headers) {
    m.key = "customer-4242";
    m.headers = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                 {"content-type", "application/json"}};
  }
  return m;
}

const TimePoint kNow{std::chrono::microseconds(1'790'000'000'000'000)};

// args: records per batch, payload bytes, key and headers (0/1)
void BM_Encode(benchmark::State& state) {
  const auto records = static_cast<size_t>(state.range(0));
  const Message m = MakeMessage(static_cast<size_t>(state.range(1)), state.range(2) != 0);
  BatchEncoder encoder;
  size_t bytes = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < records; ++i) encoder.Add(m, kNow);
    std::string value = encoder.Finish();
    bytes = value.size();
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_Decode(benchmark::State& state) {
  const auto records = static_cast<size_t>(state.range(0));
  const Message m = MakeMessage(static_cast<size_t>(state.range(1)), state.range(2) != 0);
  BatchEncoder encoder;
  for (size_t i = 0; i < records; ++i) encoder.Add(m, kNow);
  const std::string value = encoder.Finish();
  for (auto _ : state) {
    BatchDecoder decoder(value);
    RecordView view;
    size_t n = 0;
    while (decoder.Next(view)) {
      benchmark::DoNotOptimize(view.payload.data());
      ++n;
    }
    if (decoder.corrupt() || n != records) state.SkipWithError("decode failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
}

void CodecArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"records", "payload", "key_headers"});
  for (int64_t records : {1, 100, 1000}) b->Args({records, 128, 0});
  b->Args({100, 1024, 0});
  b->Args({100, 128, 1});
}

BENCHMARK(BM_Encode)->Apply(CodecArgs);
BENCHMARK(BM_Decode)->Apply(CodecArgs);

}  // namespace

BENCHMARK_MAIN();
