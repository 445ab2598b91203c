# The result arrays of the compiled common calls (affine.pyx, elementwise.pyx): made with
# NumPy's C API, no Python call, except under FASTNN_POISON, where they come from
# fastnn.runtime.buffers.empty (NaN-filled) like every other output.
cimport numpy as cnp


cdef inline cnp.ndarray fresh_array(int nd, cnp.npy_intp *dims, int typenum, bint poison):
    """A new C-contiguous array (dims[0], ..., dims[nd - 1]) of ``typenum`` that a kernel
    fills completely; ``poison``: the calling module's copy of buffers.POISON."""
    if poison:
        from fastnn.runtime.buffers import empty
        return empty(tuple([dims[i] for i in range(nd)]), cnp.PyArray_DescrFromType(typenum))
    return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
