// SPDX-License-Identifier: MIT
// What the libavcodec adapters share: owners of libavcodec's context, frame and packet.
#pragma once

#if defined(RTMPX_WITH_LIBAVCODEC)

#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN
namespace detail {

struct av_context_free {
    void operator()(AVCodecContext* c) const noexcept { avcodec_free_context(&c); }
};
struct av_frame_free {
    void operator()(AVFrame* f) const noexcept { ::av_frame_free(&f); }
};
struct av_packet_free {
    void operator()(AVPacket* p) const noexcept { ::av_packet_free(&p); }
};
using av_context_ptr = std::unique_ptr<AVCodecContext, av_context_free>;
using av_frame_ptr = std::unique_ptr<AVFrame, av_frame_free>;
using av_packet_ptr = std::unique_ptr<AVPacket, av_packet_free>;

} // namespace detail
RTMPX_NAMESPACE_END

#endif // RTMPX_WITH_LIBAVCODEC
