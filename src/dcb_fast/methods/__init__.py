"""The methods of the SPEC, one module each: audit, windows, certify, coverage, complete, replay,
leaderboard, acquisition, sweep, channels, linear, diff, explain, slices.

Each counts its input through an engine (engines/) into fiber states and turns them into a result."""
