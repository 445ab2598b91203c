"""Compiled kernels (Cython + OpenMP). Private: use fastnn.functional and fastnn.layers."""
