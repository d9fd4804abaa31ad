// placeholder, replaced by the chunk_writer tests
