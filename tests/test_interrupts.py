"""A Ctrl-C that lands inside a garbage-collector/weakref callback (where Python prints
"Exception ignored ... Traceback" and drops it) is delivered again, silently."""

from __future__ import annotations

import signal
import sys
import time
import weakref
from typing import Any

from hwprune.search import runner


class _Thing:
    pass


def _drop_with_a_ctrl_c_in_its_callback() -> None:
    def callback(ref: Any) -> None:
        raise KeyboardInterrupt

    thing = _Thing()
    ref = weakref.ref(thing, callback)
    del thing  # the callback runs now; its KeyboardInterrupt is "unraisable"
    assert ref() is None


def _pending_signals_run() -> None:
    for _ in range(50):
        time.sleep(0.002)


def test_ctrl_c_in_a_callback_is_delivered_again_without_a_traceback() -> None:
    got: list[int] = []
    seen: list[Any] = []
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    record = seen.append  # stands for the hook that prints "Exception ignored ... Traceback"
    previous_hook = sys.unraisablehook
    sys.unraisablehook = record
    try:
        with runner._ctrl_c_in_callbacks_is_delivered_again():
            _drop_with_a_ctrl_c_in_its_callback()
            _pending_signals_run()
        assert got == [signal.SIGINT]  # the handler ran again, in ordinary code
        assert seen == []  # nothing reached the printing hook
        assert sys.unraisablehook is record  # restored

        _drop_with_a_ctrl_c_in_its_callback()  # outside: Python's usual drop, no redelivery
        _pending_signals_run()
        assert got == [signal.SIGINT] and len(seen) == 1
        assert isinstance(seen[0].exc_value, KeyboardInterrupt)
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, previous_handler)


def test_other_unraisable_errors_go_to_the_previous_hook() -> None:
    seen: list[Any] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        with runner._ctrl_c_in_callbacks_is_delivered_again():

            def callback(ref: Any) -> None:
                raise ValueError("boom")

            thing = _Thing()
            ref = weakref.ref(thing, callback)
            del thing
            assert ref() is None
        assert len(seen) == 1 and isinstance(seen[0].exc_value, ValueError)
    finally:
        sys.unraisablehook = previous_hook
