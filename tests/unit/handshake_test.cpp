// placeholder, replaced by the handshake tests
