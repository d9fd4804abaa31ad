// SPDX-License-Identifier: MIT
// Umbrella header: includes every public rtmpx header.
#pragma once

#include <rtmpx/version.hpp>
#include <rtmpx/config.hpp>
#include <rtmpx/error.hpp>
#include <rtmpx/timestamp.hpp>
#include <rtmpx/limits.hpp>
#include <rtmpx/amf/value.hpp>
#include <rtmpx/amf/amf0.hpp>
#include <rtmpx/amf/document.hpp>
#include <rtmpx/amf/writer.hpp>
#include <rtmpx/amf/format.hpp>
#include <rtmpx/media.hpp>
#include <rtmpx/codec/openh264_encoder.hpp>
#include <rtmpx/codec/screen_video_encoder.hpp>
#include <rtmpx/audio_codec.hpp>
#include <rtmpx/video_codec.hpp>
#include <rtmpx/log.hpp>
#include <rtmpx/options.hpp>
#include <rtmpx/statistics.hpp>
#include <rtmpx/protocol/server_session.hpp>
#include <rtmpx/protocol/client_session.hpp>
#include <rtmpx/handlers.hpp>
#include <rtmpx/broadcast.hpp>
#include <rtmpx/stream.hpp>
#include <rtmpx/connection.hpp>
#include <rtmpx/server.hpp>
#include <rtmpx/relay.hpp>
#include <rtmpx/flv_file.hpp>
#include <rtmpx/recorder.hpp>
#include <rtmpx/remote.hpp>
