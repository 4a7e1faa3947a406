"""Around the library: kernel warm-up, the benchmark registry and the seeded data generators."""
