"""The array engine: many games at once as numpy array programs.

The reference loop (:mod:`arena_bench.playing.game`) stays the definition of a game and the path for
LLMs. This package plays the same games for players that have an array form (panel-v2's
scripted members and the shipped policy) with one array operation per rule over every game of a
batch, and writes the same game records, field for field (``tests/test_array_engine.py``).
"""

from .batch import ArrayGames, GameSpec, array_capable, play_batch

__all__ = ["ArrayGames", "GameSpec", "array_capable", "play_batch"]
