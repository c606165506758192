"""Generic actor machinery: mailboxes, actors, a supervisor, child processes. No domain words here."""

from addax.runtime.actor import Actor, ActorHealth
from addax.runtime.mailbox import Mailbox, MailboxClosed, MailboxFull, MailboxStats
from addax.runtime.supervisor import RestartBudget, Supervisor, SupervisorEscalation

__all__ = [
    "Actor",
    "ActorHealth",
    "Mailbox",
    "MailboxClosed",
    "MailboxFull",
    "MailboxStats",
    "RestartBudget",
    "Supervisor",
    "SupervisorEscalation",
]
