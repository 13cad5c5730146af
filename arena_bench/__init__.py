"""arena-bench: a benchmark for structured multi-issue negotiation between language-model agents."""

__version__ = "0.1.0"
