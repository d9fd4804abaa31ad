// SPDX-License-Identifier: MIT
// Library version and the inline ABI namespace every rtmpx entity lives in.
#pragma once

#define RTMPX_VERSION_MAJOR 0
#define RTMPX_VERSION_MINOR 1
#define RTMPX_VERSION_PATCH 0

/// Opens `rtmpx::v0`; the inline namespace lets two copies of different versions link together.
#define RTMPX_NAMESPACE_BEGIN \
    namespace rtmpx {         \
    inline namespace v0 {
#define RTMPX_NAMESPACE_END \
    }                       \
    }
