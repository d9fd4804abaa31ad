// SPDX-License-Identifier: MIT
// The out-of-line members of rtmpx/driver/executor_pool.hpp: inline when header-only; compiled
// once, in the library's source file, in the separately compiled mode (see config.hpp). Each
// makes an asio::any_io_executor of a locking_executor, which instantiates much of Asio.
#pragma once

// Included only at the end of <rtmpx/driver/executor_pool.hpp>, which it completes.

RTMPX_NAMESPACE_BEGIN
namespace driver {

RTMPX_DECL asio::any_io_executor executor_pool::slot::executor() const {
    if (lock_) return locking_executor<asio::io_context::executor_type>(context_->get_executor(), lock_);
    return context_->get_executor();
}

} // namespace driver
RTMPX_NAMESPACE_END
