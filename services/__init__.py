"""Domain services: the reads and writes that resolvers, the CLI and activities call, by domain."""
