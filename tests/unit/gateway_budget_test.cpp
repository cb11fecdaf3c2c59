// The milter's total in-flight byte budget (issue 17.14): connections together never hold
// more than the limit, whatever the interleaving.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "credsift/gateway.hpp"

namespace credsift::gateway {
namespace {

TEST(InFlightBudget, RefusesWhatWouldPassTheLimit) {
  InFlightBudget budget(100);
  EXPECT_TRUE(budget.try_reserve(60));
  EXPECT_FALSE(budget.try_reserve(41));
  EXPECT_TRUE(budget.try_reserve(40));
  EXPECT_FALSE(budget.try_reserve(1));
  budget.release(60);
  EXPECT_TRUE(budget.try_reserve(60));
  EXPECT_FALSE(budget.try_reserve(UINT64_MAX));  // no overflow
  EXPECT_EQ(budget.used(), 100u);
}

TEST(InFlightBudget, SixteenConnectionsOfSixtyMegabytesStayUnderTheLimit) {
  InFlightBudget budget(256ull << 20);
  std::atomic<uint64_t> peak{0};
  std::vector<std::thread> connections;
  std::atomic<int> refused{0};
  for (int c = 0; c < 16; ++c)
    connections.emplace_back([&] {
      uint64_t held = 0;
      for (int chunk = 0; chunk < 60 * 16; ++chunk) {  // 64 KiB body chunks
        if (!budget.try_reserve(64 << 10)) {
          ++refused;
          break;
        }
        held += 64 << 10;
        uint64_t seen = peak.load();
        const uint64_t now = budget.used();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
      }
      budget.release(held);
    });
  for (std::thread& t : connections) t.join();
  EXPECT_LE(peak.load(), 256ull << 20);
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace credsift::gateway
