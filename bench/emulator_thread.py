"""An emulator in its own thread and event loop, so that its CPU can be
told apart from Dengar's in the same process.

A bench that runs Dengar and a service emulator in one process would
count the emulator's HTTP server as Dengar's CPU per message. Here the
emulator's ``running()`` block is entered in a thread of its own; Linux
keeps a CPU clock per thread (``pthread_getcpuclockid``), which this reads.
The two sides still share the GIL, so each waits for the other at times,
but waiting is not counted as CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class EmulatorThread(Generic[T]):
    """``async with EmulatorThread(api.running) as api:`` serves ``api`` from
    another thread; :meth:`cpu` is that thread's CPU seconds so far."""

    def __init__(
        self, running: Callable[[], contextlib.AbstractAsyncContextManager[T]]
    ) -> None:
        self._running = running
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._main, name="emulator", daemon=True)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with self._running() as value:
                self._value = value
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:  # the bench's thread raises it too
            self._error = exc
            self._ready.set()
            raise

    async def __aenter__(self) -> T:
        self._thread.start()
        await asyncio.to_thread(self._ready.wait)
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    async def __aexit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        await asyncio.to_thread(self._thread.join)

    def cpu(self) -> float:
        """CPU seconds the emulator's thread has used."""
        ident = self._thread.ident
        if ident is None:
            return 0.0
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(ident))
        except OSError:  # the thread has ended
            return 0.0

    async def call(self, coroutine: Coroutine[Any, Any, R]) -> R:
        """Run ``coroutine`` (a method of the emulator) in its loop."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return await asyncio.wrap_future(future)


@contextlib.asynccontextmanager
async def measured(
    running: Callable[[], contextlib.AbstractAsyncContextManager[T]],
) -> AsyncIterator[tuple[T, EmulatorThread[T]]]:
    """The emulator and its thread (for :meth:`EmulatorThread.cpu`)."""
    thread = EmulatorThread(running)
    async with thread as value:
        yield value, thread
