"""A helper process that writes bulk-load batches into a SQLite file.

In a bulk load SQLite's own work (binding values, inserting into tables and indexes) takes
about as long as preparing the rows in Python, and the GIL keeps a thread from doing the two
at once; a second process can. :class:`SqliteWriter` starts this file as a script (standard
library only, so it starts fast), sends it each batch's rows, and collects one
acknowledgement per batch. Each batch is one transaction, committed in order; after a failed
batch the helper writes nothing more.

Protocol: the parent writes frames (8-byte big-endian length, then a pickle of
``(tables, partner_updates, documents)``) to the helper's stdin; the helper answers each
frame with a line ``ok <documents>``, ``error <json message>`` or ``skipped``.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

Table = tuple[str, Sequence[str], list[tuple[Any, ...]]]
"""A table's name, its column names and the rows for them."""


class WriterFailed(Exception):
    """The helper could not write a batch; the message is its error."""


class SqliteWriter:
    """Writes batches into a SQLite file in a helper process (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        # -I: the script's folder stays off sys.path (its modules must not shadow the stdlib).
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._acks: queue.Queue[str] = queue.Queue()
        self._in_flight = 0
        self._reader = threading.Thread(
            target=self._read_acks, name="ledgerpilot-sqlite-acks", daemon=True
        )
        self._reader.start()

    def _read_acks(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._acks.put(line.decode("utf-8").rstrip("\n"))
        self._acks.put("")  # the helper is gone

    def submit(
        self, tables: list[Table], partner_updates: list[tuple[Any, ...]], documents: int
    ) -> int:
        """Send a batch (blocks while the helper is busy with the one before); documents
        committed since the last call."""
        payload = _dumps((tables, partner_updates, documents))
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(len(payload).to_bytes(8, "big"))
            stdin.write(payload)
            stdin.flush()
        except BrokenPipeError:
            self._collect(block=True)  # raises the helper's error
            raise WriterFailed("the SQLite writer process ended unexpectedly") from None
        self._in_flight += 1
        return self._collect(block=False)

    def finish(self) -> int:
        """Wait until every batch sent is committed; documents committed since the last call."""
        done = self._collect(block=True)
        self.close()
        return done

    def close(self) -> None:
        """End the helper (it finishes the batch it is writing, if any)."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _collect(self, block: bool) -> int:
        done = 0
        while self._in_flight:
            try:
                ack = self._acks.get(block=block)
            except queue.Empty:
                break
            if not ack:
                raise WriterFailed("the SQLite writer process ended unexpectedly")
            self._in_flight -= 1
            kind, _, detail = ack.partition(" ")
            if kind == "error":
                raise WriterFailed(json.loads(detail))
            if kind == "ok":
                done += int(detail)
        return done


def _dumps(value: object) -> bytes:
    # Without the memo a pickler is several times faster on many small distinct strings.
    pickler_bytes = _FastBytes()
    pickler = pickle.Pickler(pickler_bytes, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # CPython's documented switch
    pickler.dump(value)
    return bytes(pickler_bytes.buffer)


class _FastBytes:
    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)


# ---------------------------------------------------------------- the helper itself


def serve(path: str, stdin: IO[bytes], stdout: IO[str]) -> None:
    """Write the batches arriving on ``stdin`` into the SQLite file at ``path``."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    # The loader assigns every key and checks every account: foreign keys go unchecked.
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -32768")
    failed = False
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            break
        payload = _read_exactly(stdin, int.from_bytes(header, "big"))
        if failed:
            stdout.write("skipped\n")
            stdout.flush()
            continue
        try:
            documents = _write(conn, *pickle.loads(payload))
            stdout.write(f"ok {documents}\n")
        except Exception as exc:  # reported to the parent, which raises it
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failed = True
            stdout.write(f"error {json.dumps(f'{type(exc).__name__}: {exc}')}\n")
        stdout.flush()
    conn.close()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the parent closed the pipe in the middle of a batch")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write(
    conn: sqlite3.Connection,
    tables: list[Table],
    partner_updates: list[tuple[Any, ...]],
    documents: int,
) -> int:
    conn.execute("BEGIN IMMEDIATE")
    for name, _, rows in tables:
        if rows:
            top = conn.execute(f"SELECT max(id) FROM {name}").fetchone()[0] or 0
            if top >= rows[0][0]:
                raise RuntimeError(
                    f"another program wrote to {name} during the load; load "
                    "again (documents already written will be skipped)"
                )
    for name, columns, rows in tables:
        if rows:
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)
    if partner_updates:
        conn.executemany(
            "UPDATE partners SET name = ?, vat = ?, country = ? WHERE id = ?", partner_updates
        )
    conn.execute("COMMIT")
    return documents


if __name__ == "__main__":
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout)
