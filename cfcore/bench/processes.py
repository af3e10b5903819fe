"""Measurements in a fresh process, so that each one's peak memory and caches are its own."""

from __future__ import annotations

import multiprocessing


def in_fresh_process(function, *args):
    """function(*args) in a fresh (spawned) process: its result, or its error raised here as
    RuntimeError with the child's message. function must be importable by name (a
    module-level function), since the child starts afresh."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, function, args))
    process.start()
    sender.close()
    try:
        status, outcome = receiver.recv()
    except EOFError:
        status, outcome = "error", "the benchmark process died (out of memory?)"
    process.join()
    if status == "error":
        raise RuntimeError(outcome)
    return outcome


def _child(connection, function, args) -> None:
    try:
        connection.send(("ok", function(*args)))
    except BaseException as error:  # the parent reports it
        connection.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        connection.close()
