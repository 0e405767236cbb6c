"""A dataset's own files and folders: list files in other encodings, and folders that cannot be listed.

Tests run as root, which may list any folder whatever its permissions, so a folder this user
cannot list is one whose listing raises what the OS raises then (``PermissionError``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.helpers.cli import run_bench
from tests.helpers.dataset_trees import qmul_tree


def _check(root: Path):
    return run_bench("datasets", "check", "shoev2", "--data-root", str(root))


def test_a_list_file_that_is_not_utf8_is_one_problem_naming_it(tmp_path):
    qmul_tree(tmp_path, "ShoeV2", "a")
    listed = tmp_path / "photo_test.txt"
    listed.write_bytes(listed.read_bytes() + "caf\xe9.png\n".encode("latin-1"))
    result = _check(tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "photo_test.txt is not UTF-8 text" in " ".join(result.stdout.split())


def test_a_list_file_with_a_byte_order_mark_is_read(tmp_path):
    qmul_tree(tmp_path, "ShoeV2", "a")
    for name in ("photo_test.txt", "sketch_test.txt"):
        listed = tmp_path / name
        listed.write_bytes(b"\xef\xbb\xbf" + listed.read_bytes())
    result = _check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: `bench run --dataset shoev2" in result.stdout


@pytest.mark.parametrize("unlistable", [".", "testA"])
def test_a_folder_that_cannot_be_listed_is_one_message_naming_it(tmp_path, monkeypatch, unlistable):
    """An unreadable image is skipped and counted; a folder whose files cannot be seen stops the run."""
    qmul_tree(tmp_path, "ShoeV2", "b")
    folder = (tmp_path / unlistable).resolve()
    listing = Path.iterdir

    def refused(path: Path):
        if path.resolve() == folder:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return listing(path)

    monkeypatch.setattr(Path, "iterdir", refused)
    run = ["run", "--backbone", "vit-tiny", "--dataset", "shoev2", "--data-root", str(tmp_path)]
    for result in (_check(tmp_path), run_bench(*run, "--output-dir", str(tmp_path / "out"))):
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.count("Error:") == 1, result.stderr
        message = " ".join(result.stderr.split())
        assert f"{str(tmp_path / unlistable)!r}" in message and "Permission denied" in message
        assert "cannot be listed" in message or "Cannot list the dataset folder" in message
    assert not (tmp_path / "out").exists()
