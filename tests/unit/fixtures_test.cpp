// placeholder, replaced by the fixtures tests
