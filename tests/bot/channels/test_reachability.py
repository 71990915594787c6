"""`bot.channels.can_reach`: a channel's answer, the default for channels that cannot
tell, and a failed question treated as no answer (the send itself will tell)."""

from __future__ import annotations

import logging

from bot.channels import can_reach
from handlers.messages import Outbound

REPLIES = [Outbound("một")]


class Asked:
    name = "asked"

    def __init__(self, answer: bool | None):
        self.answer = answer
        self.questions: list[tuple[str, int]] = []

    async def can_reach(self, chat_key: str, replies: list[Outbound]) -> bool:
        self.questions.append((chat_key, len(replies)))
        if self.answer is None:
            raise ConnectionError("database unavailable")
        return self.answer


class Silent:
    name = "silent"


async def test_the_channel_answers_with_the_chat_and_replies():
    closed, open_ = Asked(False), Asked(True)
    assert await can_reach(closed, "42", REPLIES) is False
    assert await can_reach(open_, "43", REPLIES * 2) is True
    assert (closed.questions, open_.questions) == ([("42", 1)], [("43", 2)])


async def test_a_channel_that_cannot_tell_reaches_every_chat():
    assert await can_reach(Silent(), "42", REPLIES) is True


async def test_a_failed_question_lets_the_send_be_tried_and_is_logged(caplog):
    broken = Asked(None)
    with caplog.at_level(logging.WARNING, logger="bot.channels"):
        assert await can_reach(broken, "42", REPLIES) is True
    assert broken.questions == [("42", 1)]
    assert "asking whether a chat is reachable failed (ConnectionError)" in caplog.text
