"""Message: positional content, routing keys from classes, recipients as sets, chat forms."""

from __future__ import annotations

from metagpt.actions import Action, BossRequirement, UserRequirement, WritePRD
from metagpt.const import MESSAGE_ROUTE_TO_ALL
from metagpt.roles import Architect
from metagpt.schema import AIMessage, Message, SystemMessage, UserMessage, any_to_str


def test_content_is_positional_and_defaults_route_to_everyone_as_the_users_requirement():
    message = Message("hello")

    assert message.content == "hello"
    assert message.cause_by == any_to_str(UserRequirement)
    assert message.send_to == {MESSAGE_ROUTE_TO_ALL}
    assert str(message) == repr(message) == "user: hello"


def test_cause_by_accepts_a_class_an_instance_or_a_string_and_equals_each():
    by_class = Message("a", cause_by=WritePRD)
    by_instance = Message("a", cause_by=WritePRD())
    by_key = Message("a", cause_by=any_to_str(WritePRD))

    assert by_class.cause_by == by_instance.cause_by == by_key.cause_by == "metagpt.actions.write_prd.WritePRD"
    assert by_class.cause_by == WritePRD and by_class.cause_by == WritePRD()
    assert by_class.cause_by != Action
    assert Message("boss").cause_by == BossRequirement


def test_send_to_accepts_a_name_a_collection_or_a_role_class_and_is_a_set():
    assert Message("a", send_to="Bob").send_to == {"Bob"}
    assert Message("a", send_to=["Bob", "Eve", "Bob"]).send_to == {"Bob", "Eve"}
    assert Message("a", send_to={"Bob"}).send_to == {"Bob"}
    assert Message("a", send_to=Architect).send_to == {any_to_str(Architect)}
    assert isinstance(Message("a", send_to="Bob").send_to, set)
    assert Message("a", send_to="Bob").send_to == "Bob"  # older scripts compare with a name


def test_assignment_is_normalised_too():
    message = Message("a")

    message.cause_by = WritePRD
    message.send_to = "Bob"

    assert message.cause_by == any_to_str(WritePRD)
    assert message.send_to == {"Bob"}


def test_chat_message_kinds_and_dict_form():
    assert UserMessage("q").to_dict() == {"role": "user", "content": "q"}
    assert SystemMessage("s").to_dict() == {"role": "system", "content": "s"}
    assert AIMessage("a").to_dict() == {"role": "assistant", "content": "a"}
    assert isinstance(AIMessage("a"), Message)


def test_dump_and_load_round_trip():
    message = Message("a", cause_by=WritePRD, send_to={"Bob", "Eve"}, sent_from="Alice")

    loaded = Message.load(message.dump())

    assert (loaded.id, loaded.content, loaded.cause_by, loaded.send_to, loaded.sent_from) == (
        message.id,
        "a",
        any_to_str(WritePRD),
        {"Bob", "Eve"},
        "Alice",
    )


def test_code_parser_finds_the_block_under_a_heading():
    from metagpt.utils.common import CodeParser

    text = "## Notes\nsee below\n## Code\n```python\nprint(1)\n```\n## Tests\n```python\nassert 1\n```"

    assert CodeParser.parse_code(block="Code", text=text) == "print(1)"
    assert CodeParser.parse_code(text="```python\nx = 2\n```", lang="python") == "x = 2"
    assert CodeParser.parse_code(text="no fence") == "no fence"
