// SPDX-License-Identifier: MIT
// Limits of the protocol core: every one finite by default and configurable.
#pragma once

#include <cstddef>
#include <cstdint>

#include <rtmpx/config.hpp>

RTMPX_NAMESPACE_BEGIN

/// Bounds for AMF decoding: exceeding one yields `error::amf_depth_exceeded` or
/// `error::amf_too_many_elements`, never an unbounded allocation.
struct amf_limits {
    std::size_t max_depth = 32;        ///< nested objects/arrays
    std::size_t max_elements = 65536;  ///< values decoded in one message, nested ones included
};

/// Bounds for the chunk stream reader (exceeding one yields the named `rtmpx::error`). The peer's
/// chunk size is not one of them: any legal Set Chunk Size (1 to 2^31-1) is accepted, since the
/// bytes held are bounded by the message and reassembly limits whatever the chunk size.
struct chunk_limits {
    std::uint32_t max_message_size = 4u << 20;     ///< largest message length (message_too_large)
    std::size_t max_chunk_streams = 64;            ///< live chunk streams (too_many_chunk_streams)
    std::size_t max_reassembly_bytes = 16u << 20;  ///< bytes held in partial messages (reassembly_limit)
};

RTMPX_NAMESPACE_END
