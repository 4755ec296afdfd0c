"""Who the agents are: looking them up by address or name, and who hears of a ticket."""

from __future__ import annotations

from collections.abc import Sequence

from postdesk.config.model import AgentSettings, Settings
from postdesk.store.models import Ticket


def agent_by_address(settings: Settings, address: str) -> AgentSettings | None:
    """The configured agent with this mail address (compared lower-cased), or None."""
    wanted = address.strip().lower()
    return next((agent for agent in settings.agents if agent.email.lower() == wanted), None)


def find_agents(settings: Settings, who: str) -> list[AgentSettings]:
    """Agents matching WHO: an address, else a name (case-insensitive, whole name)."""
    wanted = " ".join(who.split()).lower()
    by_address = [agent for agent in settings.agents if agent.email.lower() == wanted]
    if by_address:
        return by_address
    return [
        agent for agent in settings.agents if agent.name and " ".join(agent.name.split()).lower() == wanted
    ]


def works_queue(agent: AgentSettings, queue: str) -> bool:
    return not agent.queues or queue in agent.queues


def agents_to_notify(settings: Settings, ticket: Ticket, exclude: Sequence[str] = ()) -> list[AgentSettings]:
    """Who hears of news on TICKET: its assignee if it has one; else the
    agents of its queue at its level, or all of the queue's agents when no
    one works that level (so no ticket goes unseen). EXCLUDE: addresses
    that must not get the mail (the sender)."""
    skip = {address.lower() for address in exclude}
    assignee = agent_by_address(settings, ticket.assignee) if ticket.assignee else None
    if assignee is not None:
        chosen = [assignee]
    else:
        in_queue = [agent for agent in settings.agents if works_queue(agent, ticket.queue)]
        chosen = [agent for agent in in_queue if agent.level == ticket.level] or in_queue
    return [agent for agent in chosen if agent.email.lower() not in skip]


def known_queues(settings: Settings) -> list[str]:
    """The queue names a ticket may be moved to."""
    return sorted({queue.name for queue in settings.queues} or {settings.triage.default_queue})
