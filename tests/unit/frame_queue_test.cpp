// SPDX-License-Identifier: MIT
// Tests for frame_queue.hpp: bounded SPSC semantics on one thread, and order across two threads.
#include <doctest/doctest.h>

#include <memory>
#include <thread>

#include <rtmpx/driver/frame_queue.hpp>

TEST_SUITE("frame_queue") {
    TEST_CASE("a queue holds exactly its capacity and hands items out in order") {
        rtmpx::driver::frame_queue<std::unique_ptr<int>> q(3);
        CHECK(q.capacity() == 3);
        CHECK(q.front() == nullptr);
        for (int i = 0; i < 3; ++i) CHECK(q.try_push(std::make_unique<int>(i)));
        auto extra = std::make_unique<int>(99);
        CHECK_FALSE(q.try_push(std::move(extra)));
        CHECK(extra);  // a refused item stays with the caller
        CHECK(q.size_approx() == 3);
        for (int i = 0; i < 3; ++i) {
            REQUIRE(q.front() != nullptr);
            CHECK(**q.front() == i);
            q.pop();
        }
        CHECK(q.empty());
        CHECK(q.try_push(std::move(extra)));  // space again after pops, across the wrap
        CHECK(**q.front() == 99);
    }

    TEST_CASE("items left in the queue are destroyed with it") {
        auto counter = std::make_shared<int>(0);
        {
            rtmpx::driver::frame_queue<std::shared_ptr<int>> q(4);
            q.try_push(std::shared_ptr<int>(counter));
            q.try_push(std::shared_ptr<int>(counter));
            CHECK(counter.use_count() == 3);
        }
        CHECK(counter.use_count() == 1);
    }

    TEST_CASE("two threads pass a million sequence numbers in order with none lost") {
        constexpr std::uint64_t count = 1'000'000;
        rtmpx::driver::frame_queue<std::uint64_t> q(64);
        std::thread producer([&] {
            for (std::uint64_t i = 0; i < count; ++i) {
                std::uint64_t v = i;
                while (!q.try_push(std::move(v))) std::this_thread::yield();
            }
        });
        std::uint64_t expected = 0;
        bool in_order = true;
        while (expected < count) {
            if (auto* v = q.front()) {
                in_order = in_order && *v == expected;
                ++expected;
                q.pop();
            } else {
                std::this_thread::yield();
            }
        }
        producer.join();
        CHECK(in_order);
        CHECK(q.empty());
    }
}
