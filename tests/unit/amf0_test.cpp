// placeholder, replaced by the amf0 tests
