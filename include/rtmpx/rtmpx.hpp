// SPDX-License-Identifier: MIT
// Umbrella header: includes every public rtmpx header.
#pragma once

#include <rtmpx/version.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/timestamp.hpp>
#include <rtmpx/limits.hpp>
#include <rtmpx/amf0.hpp>
#include <rtmpx/message.hpp>
#include <rtmpx/messages.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/codec/openh264_encoder.hpp>
#include <rtmpx/codec/screen_video_encoder.hpp>
#include <rtmpx/video_codec.hpp>
#include <rtmpx/frame_queue.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/options.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/broadcast.hpp>
#include <rtmpx/stream.hpp>
#include <rtmpx/connection.hpp>
#include <rtmpx/server.hpp>
