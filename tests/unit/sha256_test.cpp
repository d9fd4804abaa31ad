// placeholder, replaced by the sha256 tests
