"""What every method shares: fiber rules, exact quantiles, confidence bounds, results and progress.

Imports only the base modules, kernels/ and io/."""
