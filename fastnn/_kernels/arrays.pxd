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



cdef inline cnp.ndarray reused_bytes(dict buffers, str tag, cnp.npy_intp nbytes,
                                     cnp.npy_intp max_bytes):
    """This thread's scratch buffer ``tag`` (``buffers``: fastnn.runtime.buffers
    .thread_buffers()), grown to at least ``nbytes`` and kept up to ``max_bytes``
    (REUSE_MAX_BYTES): valid until the tag's next use in this thread, and while the caller
    holds the array returned."""
    cdef object found = buffers.get(tag)
    if found is not None and cnp.PyArray_NBYTES(<cnp.ndarray>found) >= nbytes:
        return <cnp.ndarray>found
    cdef cnp.npy_intp n = max(nbytes, 1)
    cdef cnp.ndarray fresh = cnp.PyArray_EMPTY(1, &n, cnp.NPY_UINT8, 0)
    if n <= max_bytes:
        buffers[tag] = fresh
    return fresh
