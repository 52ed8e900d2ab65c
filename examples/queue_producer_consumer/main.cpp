// queue_producer_consumer: producers and consumers in separate processes
// share a JoinableQueue; the main actor waits with join() until every item
// was processed (task_done), then closes the queue.
//
//   queue_producer_consumer [--producers P] [--consumers C] [--items N]
#include <troupe/actors.hpp>
#include <troupe/troupe.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

troupe::task<void> producer(troupe::actor& self, troupe::joinable_queue<std::uint64_t> q, std::uint64_t first,
                            std::uint64_t count) {
  std::uint64_t next = first;
  co_await troupe::produce_from(self, q, [&]() -> std::optional<std::uint64_t> {
    if (next == first + count) return std::nullopt;
    return next++;
  });
}
TROUPE_ACTOR(producer);

troupe::task<void> consumer(troupe::actor& self, troupe::joinable_queue<std::uint64_t> q, troupe::actor_ref report) {
  std::uint64_t sum = 0;
  std::size_t n = co_await troupe::consume(self, q, [&](std::uint64_t& x) { sum += x; });
  self.send(report, std::to_string(n) + " " + std::to_string(sum));
}
TROUPE_ACTOR(consumer);

}  // namespace

int main(int argc, char** argv) {
  std::size_t producers = 2, consumers = 2;
  std::uint64_t items = 10000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("usage: queue_producer_consumer [--producers P] [--consumers C] [--items N]\n"
                  "  P producer processes put N items each into a JoinableQueue; C consumer\n"
                  "  processes take them and mark each done; join() returns when all are done.\n");
      return 0;
    }
    if (i + 1 >= argc) return std::fprintf(stderr, "queue_producer_consumer: %s needs a value\n", a.c_str()), 2;
    if (a == "--producers")
      producers = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--consumers")
      consumers = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--items")
      items = std::strtoull(argv[++i], nullptr, 10);
    else
      return std::fprintf(stderr, "queue_producer_consumer: unknown argument %s\n", a.c_str()), 2;
  }
  return troupe::run(argc, argv, [&](troupe::actor& self) -> troupe::task<void> {
    auto q = troupe::make_joinable_queue<std::uint64_t>(self, 1000);
    // Options in variables, not braced inside co_await: g++ 12 miscompiles
    // that (docs/guide.md, "Compiler pitfalls").
    const troupe::process_options consumer_opts{.name = "consumer"}, producer_opts{.name = "producer"};
    for (std::size_t i = 0; i < consumers; ++i) co_await self.spawn_process(consumer_opts, consumer, q, self.ref());
    std::vector<troupe::process> started;
    for (std::size_t i = 0; i < producers; ++i)
      started.push_back(co_await self.spawn_process(producer_opts, producer, q, i * items, items));
    for (auto& p : started) co_await p.join(self);  // every item is in the queue (or taken)
    co_await q.join(self);                          // and every one was processed
    std::printf("all %llu items processed\n", static_cast<unsigned long long>(producers * items));
    q.close(self);
    std::uint64_t total = 0, sum = 0;
    for (std::size_t i = 0; i < consumers; ++i) {
      auto r = co_await self.receive<std::string>();
      std::uint64_t n = 0, s = 0;
      std::sscanf(r->c_str(), "%llu %llu", reinterpret_cast<unsigned long long*>(&n),
                  reinterpret_cast<unsigned long long*>(&s));
      std::printf("consumer %zu took %llu items\n", i + 1, static_cast<unsigned long long>(n));
      total += n;
      sum += s;
    }
    std::uint64_t all = producers * items;
    std::printf("%llu items, sum %llu (expected %llu)\n", static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(sum), static_cast<unsigned long long>(all * (all - 1) / 2));
  });
}
