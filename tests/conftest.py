"""Shared fixtures: the installed registry, a CLI runner, a read-only view of a folder and a tiny full disk.

Plain helpers (settings that make runs take seconds, toy parts, tiny datasets on disk) live in ``tests/helpers/``."""
from __future__ import annotations


import pytest

from metareg.host.registry import Registry


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.load(warn=False)


@pytest.fixture
def run_cli(capsys, tmp_path, monkeypatch):
    """Run ``metareg ARGS`` in-process with a store in tmp_path; returns (exit code, stdout, stderr)."""
    from metareg.commands.cli import main

    monkeypatch.setenv("METAREG_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("METAREG_RAISE_ERRORS", raising=False)

    def run(*args: str):
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _mount(*args: str) -> None:
    import subprocess

    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"needs a mount this machine does not allow (mount {' '.join(args)}: {done.stderr.strip()})")


@pytest.fixture
def read_only_view(tmp_path):
    """Factory: ``read_only_view(folder)`` is ``folder`` as a user who may not write it sees it: a read-only bind
    mount for root (whom file modes do not stop), the folder with its write bits removed for anyone else."""
    import os
    import stat
    import subprocess

    mounts, chmodded = [], []

    def make(folder):
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                chmodded.append((path, path.stat().st_mode))
                path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
            return folder
        view = tmp_path / f"read-only-{len(mounts)}"
        view.mkdir()
        _mount("--bind", "-o", "ro", str(folder), str(view))
        mounts.append(view)
        return view

    yield make
    for view in mounts:
        subprocess.run(["umount", str(view)], check=False)
    for path, mode in reversed(chmodded):
        path.chmod(mode)


@pytest.fixture
def tiny_disk(tmp_path):
    """Factory: ``tiny_disk(kib)`` is a folder on a file system of that size (a tmpfs, so it can be filled)."""
    import os
    import subprocess

    mounts = []

    def make(kib: int):
        if os.geteuid() != 0:
            pytest.skip("needs root to mount a small file system")
        folder = tmp_path / f"disk-{len(mounts)}"
        folder.mkdir()
        _mount("-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder))
        mounts.append(folder)
        return folder

    yield make
    for folder in mounts:
        subprocess.run(["umount", str(folder)], check=False)


