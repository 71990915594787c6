"""Attachments turned into bytes after the commit, or into a line where files cannot go.

Use cases describe a chart or a workbook (`handlers.messages`) inside their transaction;
`prepare` runs once that transaction is committed, right before the send: it draws
each attachment in a worker thread (matplotlib and openpyxl take tens to hundreds of
milliseconds, which must hold neither the event loop nor, on SQLite, the write lock)
when the channel can upload files, and otherwise appends the attachment's fallback
line (a signed download link, or why there is none) to the reply's text.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.channels.capabilities import Capabilities
from handlers.messages import Attachment, ChartAttachment, Outbound, StoredFile


def render(attachment: Attachment) -> bytes:
    """The file's bytes (blocking: call it in a thread)."""
    if isinstance(attachment, StoredFile):
        return attachment.content
    if isinstance(attachment, ChartAttachment):
        from bot.rendering.chart import draw_chart

        return draw_chart(attachment)
    from bot.rendering.workbook import write_sheets

    return write_sheets(attachment)


def is_image(attachment: Attachment) -> bool:
    if isinstance(attachment, StoredFile):
        return attachment.image
    return isinstance(attachment, ChartAttachment)


async def prepare(replies: list[Outbound], capabilities: Capabilities) -> list[Outbound]:
    """The replies as the channel can carry them: one out for each one in, in order."""
    prepared = []
    for reply in replies:
        attachment = reply.attachment
        if attachment is None:
            prepared.append(reply)
        elif not capabilities.files:
            text = f"{reply.text}\n{attachment.fallback}" if reply.text else attachment.fallback
            prepared.append(replace(reply, text=text, attachment=None))
        else:
            content = await asyncio.to_thread(render, attachment)
            if is_image(attachment):
                prepared.append(replace(reply, image=content, attachment=None))
            else:
                name = attachment.file_name
                prepared.append(replace(reply, file=content, file_name=name, attachment=None))
    return prepared
