"""Downloads for the data sets: a file fetched through ``<target>.part`` and kept only
when its MD5 is the expected one."""
import hashlib
import os
import shutil
import urllib.error
import urllib.request

CHECKSUM_MISMATCH = "checksum mismatch"


def md5_of(path):
    """The MD5 of the file at ``path``, as hex digits."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url, target, md5, timeout):
    """Download ``url`` to ``target`` if its MD5 is ``md5``; nothing is kept otherwise.

    Returns None when the file was kept, else why not: the network's error as text, or
    :data:`CHECKSUM_MISMATCH`.
    """
    part = target + ".part"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as f:
            shutil.copyfileobj(response, f)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(exc)
    if md5_of(part) != md5:
        os.remove(part)
        return CHECKSUM_MISMATCH
    os.replace(part, target)
    return None
