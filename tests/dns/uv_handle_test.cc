#include "dns/uv_handle.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "tests/dns/test_loop.h"

namespace tern::dns {
namespace {

TEST(UvHandle, ClosedAndFreedThroughTheLoop) {
  testing::TestLoop loop;
  {
    auto timer = UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(loop.get(), t); });
    ASSERT_TRUE(timer);
    EXPECT_TRUE(*timer);
    EXPECT_EQ(timer->handle()->type, UV_TIMER);
  }
  // Destroyed: the handle is closing; the loop frees it (ASan would report a leak otherwise).
  EXPECT_TRUE(loop.close());
}

TEST(UvHandle, MovesOwnership) {
  testing::TestLoop loop;
  auto a = UvHandle<uv_idle_t>::create([&](uv_idle_t* h) { return uv_idle_init(loop.get(), h); });
  ASSERT_TRUE(a);
  uv_idle_t* raw = a->get();
  UvHandle<uv_idle_t> b = std::move(*a);
  EXPECT_FALSE(*a);
  EXPECT_EQ(b.get(), raw);
  UvHandle<uv_idle_t> c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  std::vector<UvHandle<uv_idle_t>> many;
  for (int i = 0; i < 20; ++i) {  // reallocation moves them all
    auto h = UvHandle<uv_idle_t>::create([&](uv_idle_t* p) { return uv_idle_init(loop.get(), p); });
    ASSERT_TRUE(h);
    many.push_back(std::move(*h));
  }
  c.reset();
  EXPECT_FALSE(c);
  many.clear();
  EXPECT_TRUE(loop.close());
}

TEST(UvHandle, FailedInitIsFreedWithoutClose) {
  testing::TestLoop loop;
  auto poll = UvHandle<uv_poll_t>::create([&](uv_poll_t* p) { return uv_poll_init(loop.get(), p, -1); });
  ASSERT_FALSE(poll);
  EXPECT_TRUE(poll.error().is_transient());
  EXPECT_NE(poll.error().message().find("EBADF"), std::string::npos) << poll.error().message();
  EXPECT_TRUE(loop.close());
}

TEST(UvHandle, CallbacksRunWhileOwned) {
  testing::TestLoop loop;
  int fired = 0;
  auto timer = UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(loop.get(), t); });
  ASSERT_TRUE(timer);
  (*timer)->data = &fired;
  ASSERT_EQ(uv_timer_start(timer->get(), [](uv_timer_t* t) { ++*static_cast<int*>(t->data); }, 1, 0), 0);
  EXPECT_TRUE(loop.run_until([&] { return fired == 1; }));
  timer->reset();
  EXPECT_TRUE(loop.close());
}

}  // namespace
}  // namespace tern::dns
