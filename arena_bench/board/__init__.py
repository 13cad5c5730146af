"""The leaderboard: verification of submitted runs, submission, the held-out evaluator and its request rows, the static site."""
