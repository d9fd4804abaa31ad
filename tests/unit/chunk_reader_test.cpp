// placeholder, replaced by the chunk_reader tests
