#include <troupe/detail/blocking_pool.hpp>
#include <troupe/node.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

namespace troupe::detail {

struct blocking_pool::work_guard {
  asio::executor_work_guard<asio::io_context::executor_type> guard;
};

blocking_pool::blocking_pool(node& n, unsigned threads)
    : node_(n), size_(threads ? threads : std::max(1u, std::thread::hardware_concurrency())) {}

blocking_pool::~blocking_pool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    queue_.clear();
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void blocking_pool::submit(std::shared_ptr<blocking_job> job) {
  if (outstanding_++ == 0)
    keep_running_ = std::make_unique<work_guard>(work_guard{asio::make_work_guard(node_.io_context())});
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(job));
  // Threads start as work comes, up to the pool's size: a job never waits
  // behind another while the pool could run it (they may depend on each other).
  if (queue_.size() > idle_ && threads_.size() < size_)
    threads_.emplace_back([this] { work(); });
  else
    ready_.notify_one();
}

void blocking_pool::finished() noexcept {
  if (--outstanding_ == 0) keep_running_.reset();
}

void blocking_pool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    ready_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    --idle_;
    if (stop_) return;
    std::shared_ptr<blocking_job> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job->run();
    job->done.store(true, std::memory_order_release);
    node* n = &node_;
    actor_ref who = job->who;
    std::uint32_t token = job->token;
    asio::post(n->io_context(), [this, n, who, token, job = std::move(job)] {
      finished();
      n->end_blocking(who, token);
    });
    lock.lock();
  }
}

}  // namespace troupe::detail
