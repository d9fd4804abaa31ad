// placeholder, replaced by the messages tests
