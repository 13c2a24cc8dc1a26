"""asv benchmarks of fastdl against the book's NumPy code (see common.py for the contenders)."""
