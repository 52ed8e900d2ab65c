// The actor templates: Python's multiprocessing patterns as actors.
#pragma once

#include <troupe/actors/pipe.hpp>
#include <troupe/actors/pool.hpp>
#include <troupe/actors/producer_consumer.hpp>
#include <troupe/actors/queue.hpp>
#include <troupe/actors/supervisor.hpp>
