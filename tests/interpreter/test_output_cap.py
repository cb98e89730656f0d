"""A cell that floods its output: the kernel sends us a bounded amount in small messages, and
a cell that undoes the kernel's cap is still cut and stopped by our side."""

from __future__ import annotations

import pytest

from metagpt.actions.di.kernel import FLOOD_CHARS, STREAM_CHUNK, STREAM_HEAD, STREAM_TAIL, CellResult, SandboxedKernel

FIFTY_MB = "for i in range(50_000):\n    print('x' * 999)\n"
NOT_SENT = "the rest of this cell's output is not sent"
"""From the line the kernel writes where it stops sending a cell's output."""


@pytest.fixture
def received(monkeypatch) -> list[int]:
    """The length of each stream message the kernel sent us, in order."""
    sizes: list[int] = []
    add = CellResult.add_stream

    def record(self: CellResult, name: str, text: str) -> None:
        sizes.append(len(text))
        add(self, name, text)

    monkeypatch.setattr(CellResult, "add_stream", record)
    return sizes


async def assert_next_cell_runs(kernel: SandboxedKernel) -> None:
    """The kernel is the same and the next cell's output is sent whole (stderr: a cell may have
    pointed `sys.stdout` at file descriptor 1, which is buffered)."""
    after = await kernel.execute("import sys\nprint('after', file=sys.stderr)")
    assert after.ok and after.text() == "after\n" and after.seen == len("after\n")
    assert kernel.restarts == 0


@pytest.mark.parametrize(
    "cell",
    [
        pytest.param(FIFTY_MB, id="print"),
        pytest.param("import sys\nsys.stdout = sys.__stdout__\n" + FIFTY_MB, id="file-descriptor-1"),
        pytest.param(
            "import subprocess, sys\n"
            "subprocess.run([sys.executable, '-c', \"for i in range(50_000): print('x' * 999)\"])\n",
            id="child-process",
        ),
    ],
)
async def test_a_cell_printing_50_mb_sends_at_most_the_flood_limit_in_small_messages(workspace, received, cell):
    async with SandboxedKernel(workspace, cell_timeout=60) as kernel:
        received.clear()  # the start-up cells
        result = await kernel.execute(cell)
        assert result.flooded and result.error.startswith("OutputFlood:"), result.error
        assert FLOOD_CHARS < result.seen < FLOOD_CHARS + 200  # the limit, then the kernel's one line
        assert max(received) <= STREAM_CHUNK + 2 * 1000  # a chunk, plus the line that crossed it
        kept = result.outputs[0]["text"]
        assert kept.startswith("x" * 999 + "\n") and kept.rstrip().endswith(NOT_SENT + "]")
        assert len(kept) < STREAM_HEAD + STREAM_TAIL + 200
        await assert_next_cell_runs(kernel)


async def test_a_cell_that_undoes_the_kernel_cap_is_still_cut_and_stopped_by_us(workspace, received):
    undo = "import sys\nsys.stdout.__class__ = type(sys.stdout).__mro__[1]\n"  # ipykernel's own OutStream
    async with SandboxedKernel(workspace, cell_timeout=60) as kernel:
        received.clear()
        result = await kernel.execute(undo + FIFTY_MB)
        assert max(received) > 4 * STREAM_CHUNK, "the cap was not undone: this test would prove nothing"
        assert result.flooded and result.error.startswith("OutputFlood:"), result.error
        assert result.seen > FLOOD_CHARS
        kept = result.outputs[0]["text"]
        assert NOT_SENT not in kept and "characters cut ...]" in kept
        assert len(kept) < STREAM_HEAD + STREAM_TAIL + 200
        await assert_next_cell_runs(kernel)
