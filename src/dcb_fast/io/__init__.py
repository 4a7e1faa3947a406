"""Input and output: sources (files, globs, directories, in-memory tables -> record batches),
the Arrow adapter, global dictionaries, and atomic writers."""
