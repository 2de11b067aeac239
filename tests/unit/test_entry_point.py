"""The console script's exit (cli.entry_point): the exit code and everything written survive skipping CPython's
interpreter teardown, and the shortcut is not taken while another thread is alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_entry_point(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import atexit, sys, threading, time
        import gemini_batch.cli as cli
        atexit.register(lambda: print("atexit handler ran"))
        """
    ) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)


def test_exit_code_output_and_atexit_handlers_survive_the_fast_exit() -> None:
    done = run_entry_point(
        """
        def main():
            print("buffered, not flushed", end="")  # stdout is a pipe: block-buffered until flushed
            sys.stderr.write("to stderr\\n")
            return 3
        cli.main = main
        cli.entry_point()
        print("never reached")
        """
    )
    assert done.returncode == 3
    assert done.stdout == "buffered, not flushedatexit handler ran\n"
    assert done.stderr == "to stderr\n"


def test_a_live_thread_gets_the_normal_exit() -> None:
    done = run_entry_point(
        """
        def worker():
            time.sleep(0.5)
            print("worker finished")
        def main():
            threading.Thread(target=worker).start()
            return 4
        cli.main = main
        cli.entry_point()
        """
    )
    # sys.exit waits for the non-daemon thread: its output is there, then the atexit handlers
    assert done.returncode == 4
    assert done.stdout == "worker finished\natexit handler ran\n"
