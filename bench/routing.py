"""Message routing through `Environment`: throughput, memory per message, growth with the team.

Roles here have no actions (no model is involved): the figures are the framework's own cost of
publishing a message, delivering it to every role it is addressed to, and each role observing it
into its memory in its next run. Messages are broadcast (`send_to` everyone, MetaGPT's default),
so one message means one delivery per role; the growth check compares the time per delivery
at 100 and at 1,000 roles, which stays flat unless something grows quadratically.

    python bench/routing.py [--roles 100] [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_bytes() -> int:
    """Current resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            import os

            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


@dataclass
class Routing:
    roles: int
    messages: int
    publish_seconds: float
    publish_cpu: float
    observe_seconds: float
    bytes_per_message: float
    rounds: int

    @property
    def deliveries(self) -> int:
        return self.roles * self.messages

    @property
    def messages_per_second(self) -> float:
        """Published, delivered to every role and observed by every role, per wall second."""
        return self.messages / (self.publish_seconds + self.observe_seconds)

    @property
    def microseconds_per_delivery(self) -> float:
        return (self.publish_seconds + self.observe_seconds) / self.deliveries * 1e6


def measure(roles: int, messages: int, rounds: int = 10) -> Routing:
    """Publish `messages` in `rounds` batches to `roles` roles; each batch is observed by a round."""
    from loguru import logger

    from metagpt.environment import Environment
    from metagpt.roles.role import Role
    from metagpt.schema import Message

    class Listener(Role):
        """Observes its news and answers nothing, so only the bench's messages are routed."""

        async def react(self) -> None:
            return None

    logger.remove()  # the roles' debug lines are not what is measured
    env = Environment()
    env.add_roles(Listener(name=f"role{n}") for n in range(roles))
    gc.collect()
    before = rss_bytes()
    publish = observe = cpu = 0.0
    per_round = messages // rounds
    for round_no in range(rounds):
        batch = [Message(f"message {round_no}-{n}", sent_from="bench") for n in range(per_round)]
        started, started_cpu = time.perf_counter(), time.process_time()
        for message in batch:
            env.publish_message(message)
        publish += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        started = time.perf_counter()
        asyncio.run(env.run())
        observe += time.perf_counter() - started
    gc.collect()
    grown = rss_bytes() - before
    assert all(len(role.rc.memory) == per_round * rounds for role in env.roles.values())
    return Routing(roles, per_round * rounds, publish, cpu, observe, grown / (per_round * rounds), rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=100)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    small = measure(args.roles, args.messages)
    large = measure(args.roles * 10, args.messages // 10)
    for run in (small, large):
        print(
            f"{run.roles} roles, {run.messages} messages ({run.deliveries} deliveries): "
            f"{run.messages_per_second:,.0f} messages/s, publish {run.publish_seconds:.2f} s "
            f"(CPU {run.publish_cpu:.2f} s), observe {run.observe_seconds:.2f} s, "
            f"{run.microseconds_per_delivery:.2f} us per delivery, {run.bytes_per_message:,.0f} bytes per message"
        )
    growth = large.microseconds_per_delivery / small.microseconds_per_delivery
    print(f"time per delivery, {large.roles} vs {small.roles} roles: x{growth:.2f}")


if __name__ == "__main__":
    main()
