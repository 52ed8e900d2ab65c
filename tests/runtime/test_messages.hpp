// Message types shared by the runtime tests.
#pragma once

#include <troupe/troupe.hpp>

#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace test_msgs {

struct ping {
  std::uint64_t n = 0;
};
struct pong {
  std::uint64_t n = 0;
};
struct text {
  std::string s;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & s;
  }
};
struct point {
  int x = 0, y = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & x & y;
  }
  friend bool operator==(const point&, const point&) = default;
};
struct nested {
  std::string name;
  std::vector<point> points;
  std::map<std::string, std::vector<int>> tags;
  troupe::actor_ref owner;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar & name & points & tags & owner;
  }
  friend bool operator==(const nested&, const nested&) = default;
};
struct stop {};

}  // namespace test_msgs

TROUPE_MESSAGE(test_msgs::ping);
TROUPE_MESSAGE(test_msgs::pong);
TROUPE_MESSAGE(test_msgs::text);
TROUPE_MESSAGE(test_msgs::point);
TROUPE_MESSAGE(test_msgs::nested);
TROUPE_MESSAGE(test_msgs::stop);
