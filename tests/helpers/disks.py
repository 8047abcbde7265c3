"""A full disk injected at the write: every file ``atomic_file`` opens fails with ENOSPC after a few bytes."""
from __future__ import annotations





def full_disk_after(monkeypatch, after: int = 0):
    """Make every write to a file opened by ``atomic_file`` fail with ENOSPC once ``after`` bytes are written: the
    temporary file has been created and partly written when the disk fills."""
    import errno
    import os

    real = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        handle = real(fd, mode, *args, **kwargs)
        written_so_far = [0]
        write = handle.write

        def failing(data):
            if written_so_far[0] + len(data) > after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written_so_far[0] += len(data)
            return write(data)

        handle.write = failing
        return handle

    monkeypatch.setattr("metareg.toolkit.atomic.os.fdopen", fdopen)
