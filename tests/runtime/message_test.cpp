// The type-erased message handle.
#include "test_messages.hpp"

#include <gtest/gtest.h>

using namespace troupe;
using namespace test_msgs;

namespace {
message make(text t) {
  auto* e = new detail::typed_envelope<text>(std::in_place, std::move(t));
  e->type = &message_type_of<text>();
  e->sender = actor_ref{1, 2};
  return message(e);
}
}  // namespace

TEST(message, knows_its_type_and_sender) {
  message m = make(text{"hi"});
  EXPECT_TRUE(m.is<text>());
  EXPECT_FALSE(m.is<ping>());
  EXPECT_EQ(m.type_name(), "test_msgs::text");
  EXPECT_EQ(m.sender(), (actor_ref{1, 2}));
  EXPECT_EQ(m.get<text>().s, "hi");
  EXPECT_EQ(m.get_if<ping>(), nullptr);
}

TEST(message, wrong_get_throws_with_both_type_names) {
  message m = make(text{"hi"});
  try {
    m.get<ping>();
    FAIL();
  } catch (const bad_message_cast& e) {
    std::string w = e.what();
    EXPECT_NE(w.find("test_msgs::text"), std::string::npos);
    EXPECT_NE(w.find("test_msgs::ping"), std::string::npos);
  }
}

TEST(message, moves_transfer_ownership) {
  message a = make(text{"x"});
  message b = std::move(a);
  EXPECT_FALSE(a);
  EXPECT_TRUE(b);
  received<text> r(std::move(b));
  EXPECT_EQ(r->s, "x");
  EXPECT_EQ(r.sender(), (actor_ref{1, 2}));
}
