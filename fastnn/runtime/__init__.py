"""What fastnn adjusts in the process it runs in, beside its kernels: how idle threads
wait (:mod:`~fastnn.runtime.waiting`: its OpenMP workers and NumPy's OpenBLAS workers),
glibc's allocator on request (:mod:`~fastnn.runtime.malloc`), and the arrays its kernels
write (:mod:`~fastnn.runtime.buffers`: outputs, scratch and reused operands, NaN-filled
under ``FASTNN_POISON=1``).  The thread count itself is ``fastnn.set_num_threads``."""
