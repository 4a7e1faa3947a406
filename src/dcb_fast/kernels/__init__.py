"""Numba kernels. They see only numpy arrays, lengths and scalars, and write into arrays the
caller allocated. Kernels that may run out of room return the row index where they stopped; the
Python layer grows the arrays and calls again from there."""
