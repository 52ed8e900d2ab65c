#include <troupe/log.hpp>
#include <troupe/run.hpp>

#include <cstdio>

namespace troupe {

int run_root(int /*argc*/, char** /*argv*/, root_function root, node_options opts) {
  node n(opts);
  int code = 0;
  bool root_done = false;
  n.spawn(
      [&](actor& self) -> task<void> {
        try {
          code = co_await root(self);
        } catch (const actor_shutdown&) {
          code = 1;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "troupe: the root actor failed: %s\n", e.what());
          code = 1;
        }
        root_done = true;
        // The program is over when its root is: the other actors get to finish.
        self.node().shutdown();
      });
  bool ok = n.run();
  if (!root_done) {
    if (!ok)
      std::fprintf(stderr,
                   "troupe: deadlock: every actor waits for a message and nothing can wake one "
                   "(%zu actors alive)\n",
                   n.actor_count());
    return 2;
  }
  return code;
}

}  // namespace troupe
