"""Results, statistics and reports: the results file, per-game rows and bootstrap statistics, diagnostics, terminal layouts, the HTML and markdown report, the leak detector's measured error."""
