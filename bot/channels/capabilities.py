"""What a channel can show, declared by its adapter so the delivery path can adapt.

Use cases describe replies without knowing the channel (choices, an attachment);
the delivery path reads these capabilities to turn choices into buttons or numbered
lines to type, and an attachment into an uploaded file or a signed link.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    buttons: int  # how many choices of one reply can be buttons (0: none, type the number)
    files: bool  # images and documents can be uploaded to the chat
    max_text: int  # the longest text one platform message may carry
