// placeholder, replaced by the amf3 tests
