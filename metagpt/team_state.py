"""A team's state as JSON, for `Team.serialize` / `Team.deserialize` (MetaGPT 0.6's names).

What is kept: the idea, the investment and the money spent (per role and model), every role
(its class and plain declared fields, see `roles.spec`) with its memory, unread messages and
state, and the environment's history. Messages keep their structured content, rebuilt from its
class. The file is written atomically, so a kill while saving leaves the previous state.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

from metagpt.exceptions import UserError
from metagpt.roles.spec import build_role, role_spec
from metagpt.schema import Message
from metagpt.utils.atomic import write_atomic

if TYPE_CHECKING:
    from metagpt.cost_manager import CostManager
    from metagpt.environment import Environment
    from metagpt.roles.role import Role


class TeamLike(Protocol):
    """What saving and loading need of a `metagpt.team.Team` (typed here: `team` imports this module)."""

    idea: str
    env: Environment

    @property
    def cost_manager(self) -> CostManager: ...

    def hire(self, roles: list[Role]) -> None: ...

    def invest(self, investment: float | str) -> None: ...


T = TypeVar("T", bound=TeamLike)

TEAM_FILE = "team.json"
VERSION = 1


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _loaded_model(path: str) -> type[BaseModel] | None:
    """The pydantic model class `path` names, if a module this process already imported defines it.

    Nothing is imported (a saved file is data, never code): a class whose module is not loaded
    yet leaves the message as text.
    """
    module_name, _, qualname = path.rpartition(".")
    target: Any = sys.modules.get(module_name)
    for part in qualname.split(".") if target is not None else ():
        target = vars(target).get(part) if hasattr(target, "__dict__") else None
        if target is None:
            return None
    return target if isinstance(target, type) and issubclass(target, BaseModel) else None


def message_state(message: Message) -> dict[str, Any]:
    data = message.model_dump(mode="json", exclude={"instruct_content"})
    data["send_to"] = sorted(message.send_to)
    content = message.instruct_content
    if content is not None:
        data["instruct_content"] = {"class": _class_path(content), "data": content.model_dump(mode="json")}
    return data


def message_from_state(data: dict[str, Any]) -> Message:
    data = dict(data)
    content = data.pop("instruct_content", None)
    message = Message(**data)
    if content is not None:
        model = _loaded_model(str(content.get("class", ""))) if isinstance(content, dict) else None
        if model is not None:
            with contextlib.suppress(ValueError):  # else the text is kept without its structured form
                message.instruct_content = model.model_validate(content.get("data"))
    return message


def dump_team(team: TeamLike) -> dict[str, Any]:
    costs = team.cost_manager
    roles = []
    for role in team.env.roles.values():
        roles.append(
            {
                "spec": role_spec(role),
                "memory": [m.id for m in role.rc.memory.get()],
                "buffer": [m.id for m in role.rc.msg_buffer],
                "state": role.rc.state,
            }
        )
    messages: dict[str, Message] = {m.id: m for m in team.env.history.get()}
    for role in team.env.roles.values():
        for message in [*role.rc.memory.get(), *role.rc.msg_buffer]:
            messages.setdefault(message.id, message)
    spent = [
        {"role": role, "model": model, **record.model_dump()} for role, model, record in _spend_by_role_and_model(team)
    ]
    return {
        "version": VERSION,
        "idea": team.idea,
        "env_desc": team.env.desc,
        "investment": costs.max_budget,
        "spent": spent,
        "messages": [message_state(m) for m in messages.values()],
        "history": [m.id for m in team.env.history.get()],
        "roles": roles,
    }


def _spend_by_role_and_model(team: TeamLike) -> list[tuple[str, str, Any]]:
    """Spend split by role (the model is the team's one model; per-model records sum the same)."""
    costs = team.cost_manager
    models = list(costs.by_model)
    model = models[0] if len(models) == 1 else ""
    return [(role, model, record) for role, record in costs.by_role.items()]


def save_team(team: TeamLike, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TEAM_FILE
    write_atomic(path, json.dumps(dump_team(team), indent=2, ensure_ascii=False).encode("utf-8"))
    return path


def load_team(cls: type[T], folder: Path, **kwargs: Any) -> T:
    path = folder / TEAM_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"No saved team at {path}; save one with team.serialize({str(folder)!r}).") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"Cannot read the saved team {path}: {str(exc)[:200]}.") from None
    if state.get("version") != VERSION:
        raise UserError(f"{path} was saved by another MetaGPT version ({state.get('version')}); save it again.")
    messages = {data["id"]: message_from_state(data) for data in state["messages"]}
    team = cls(**kwargs)
    team.idea = state.get("idea", "")
    team.env.desc = state.get("env_desc", "")
    roles = []
    for saved in state["roles"]:
        role = build_role(saved["spec"])
        roles.append((role, saved))
    team.hire([role for role, _ in roles])
    for role, saved in roles:
        role.rc.memory.add_batch(messages[i] for i in saved["memory"])
        role.rc.msg_buffer = [messages[i] for i in saved["buffer"]]
        role.rc.state = saved["state"]
        role.rc.todo = role.actions[role.rc.state] if 0 <= role.rc.state < len(role.actions) else None
    team.env.history.add_batch(messages[i] for i in state["history"])
    team.invest(state["investment"])
    team.cost_manager.restore(
        {
            (s["role"], s["model"]): (s["calls"], s["prompt_tokens"], s["completion_tokens"], s["cost"])
            for s in state["spent"]
        }
    )
    return team
