"""Reference trainer for arena-bench baseline policies (depends on arena_bench, never the reverse)."""
