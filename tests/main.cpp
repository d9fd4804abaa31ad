// SPDX-License-Identifier: MIT
// The one doctest main of the test binaries.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
