// Everything an actor program needs.
#pragma once

#include <troupe/actor.hpp>
#include <troupe/actor_ref.hpp>
#include <troupe/errors.hpp>
#include <troupe/log.hpp>
#include <troupe/message.hpp>
#include <troupe/message_type.hpp>
#include <troupe/node.hpp>
#include <troupe/run.hpp>
#include <troupe/task.hpp>
