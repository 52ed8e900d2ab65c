// pipe_producer_consumer: a producer process sends numbers through a pipe
// to a consumer process, which adds them up; end of the stream is the
// producer closing its end.
//
//   pipe_producer_consumer [--items N]
#include <troupe/actors.hpp>
#include <troupe/troupe.hpp>

#include <cstdio>
#include <string>

namespace {

troupe::task<void> producer(troupe::actor& self, troupe::pipe_end<std::uint64_t> out, std::uint64_t items) {
  for (std::uint64_t i = 1; i <= items; ++i) co_await out.send(self, i);  // paced by the consumer
  out.close(self);  // the consumer reads the end of the stream after the last item
  co_return;
}
TROUPE_ACTOR(producer);

troupe::task<void> consumer(troupe::actor& self, troupe::pipe_end<std::uint64_t> in, troupe::actor_ref report) {
  std::uint64_t sum = 0, count = 0;
  try {
    for (;;) {
      sum += co_await in.recv(self);
      ++count;
    }
  } catch (const troupe::pipe_closed&) {
  }
  self.send(report, std::to_string(count) + " items, sum " + std::to_string(sum));
}
TROUPE_ACTOR(consumer);

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t items = 100000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("usage: pipe_producer_consumer [--items N]\n"
                  "  A producer process sends 1..N through a one-way pipe to a consumer process,\n"
                  "  which prints how many items it got and their sum.\n");
      return 0;
    }
    if (a == "--items" && i + 1 < argc)
      items = std::strtoull(argv[++i], nullptr, 10);
    else
      return std::fprintf(stderr, "pipe_producer_consumer: unknown argument %s\n", a.c_str()), 2;
  }
  return troupe::run(argc, argv, [&](troupe::actor& self) -> troupe::task<void> {
    auto [reader, writer] = troupe::make_pipe<std::uint64_t>(self, false);
    // Options in variables, not braced inside co_await: g++ 12 miscompiles
    // that (docs/guide.md, "Compiler pitfalls").
    const troupe::process_options consumer_opts{.name = "consumer"}, producer_opts{.name = "producer"};
    troupe::process c = co_await self.spawn_process(consumer_opts, consumer, reader, self.ref());
    troupe::process p = co_await self.spawn_process(producer_opts, producer, writer, items);
    auto report = co_await self.receive<std::string>();
    std::printf("consumer: %s (expected %llu items, sum %llu)\n", report->c_str(),
                static_cast<unsigned long long>(items), static_cast<unsigned long long>(items * (items + 1) / 2));
    co_await p.join(self);
    co_await c.join(self);
  });
}
