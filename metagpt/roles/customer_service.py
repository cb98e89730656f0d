"""`CustomerService`: the `Sales` role bound by customer-service rules (`prompts/customer_service.md`).

Give it the store's rules and FAQs as its document store:

    store = FaissStore(DATA_PATH / "example.json")
    role = CustomerService(store=store)
    await role.run("My parcel is late, can I get a refund?")
"""

from __future__ import annotations

from typing import ClassVar

from metagpt.roles.sales import Sales


class CustomerService(Sales):
    """A customer service agent: answers from the rules and FAQs, soothes, promises nothing unsupported."""

    name: str = "Xiaomei"
    profile: str = "Human customer service"

    prompt_name: ClassVar[str] = "customer_service"
