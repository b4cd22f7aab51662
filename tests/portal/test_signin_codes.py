"""Where sign-in codes are kept for the workers of one machine (no Redis): files under the data directory.

Two code books on one directory stand for two worker processes; a code made by one is taken once by either.
(With Redis, replicas share codes: tests/replicas/test_replicas.py redeems codes across real replicas.)
"""

from __future__ import annotations

import threading
from pathlib import Path

from fabric.auth.signin import FileSignInCodes


def test_a_code_made_by_one_worker_is_taken_once_by_another(tmp_path: Path) -> None:
    first, second = FileSignInCodes(tmp_path), FileSignInCodes(tmp_path)
    code, ttl = first.issue("the-token")
    assert ttl > 0
    assert code not in "".join(entry.name for entry in tmp_path.iterdir())  # files are named by the code's hash
    assert second.redeem(code) == "the-token"
    assert first.redeem(code) is None
    assert second.redeem(code) is None


def test_racing_workers_take_a_code_once(tmp_path: Path) -> None:
    books = [FileSignInCodes(tmp_path) for _ in range(4)]
    code, _ = books[0].issue("the-token")
    start = threading.Barrier(len(books))
    taken: list[str | None] = []

    def redeem(book: FileSignInCodes) -> None:
        start.wait(10)
        taken.append(book.redeem(code))

    threads = [threading.Thread(target=redeem, args=(book,)) for book in books]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert taken.count("the-token") == 1 and taken.count(None) == len(books) - 1


def test_an_expired_code_is_refused(tmp_path: Path) -> None:
    book = FileSignInCodes(tmp_path, ttl=0.0)
    code, _ = book.issue("the-token")
    assert book.redeem(code) is None
