"""ZNS: an approved template message to a phone number, for citizens who never chatted.

Used for notices such as apologies for a late dossier. The template id and the
mapping from the template's parameters to our field names are settings
(ZALO_OA_ZNS_TEMPLATE_ID, ZALO_OA_ZNS_PARAMS), because templates are approved by
Zalo per OA and their parameter names are chosen by whoever registered them.
A phone number is personal data: it is sent to Zalo and never logged, nor put in
an error message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.settings import ZaloOASettings
from bot.zalo.oa_api import ZaloOAApi

_SEPARATORS = re.compile(r"[\s.\-()]")


class PhoneNumberError(ValueError):
    """Not a Vietnamese phone number (the message never repeats it)."""


class ZnsConfigError(ValueError):
    """ZNS is not configured, or the values lack a field the template needs."""


def normalise_phone(raw: str) -> str:
    """The form ZNS wants: 84 and the national number without its leading 0.

    Accepts what people write: "0912 345 678", "+84 912.345.678", "0084912345678",
    "84912345678". Mobile numbers have 9 digits after the 0; landlines 10.
    """
    digits = _SEPARATORS.sub("", raw or "")
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("84") and len(digits) >= 11:
        national = digits[2:].removeprefix("0")  # "+84 (0)912…" as some write it
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = ""
    if not (national.isdigit() and len(national) in (9, 10) and national[0] != "0"):
        raise PhoneNumberError("not a Vietnamese phone number (expected 0… or +84…)")
    return "84" + national


class ZnsClient:
    def __init__(self, api: ZaloOAApi, config: ZaloOASettings):
        self.api = api
        self.config = config

    def template_data(self, values: Mapping[str, Any]) -> dict[str, str]:
        """The template's parameters, each filled from the field the mapping names."""
        missing = sorted(
            field for field in self.config.zns_params.values() if values.get(field) is None
        )
        if missing:
            raise ZnsConfigError(f"ZNS template needs the fields {', '.join(missing)}")
        return {param: str(values[field]) for param, field in self.config.zns_params.items()}

    async def send(self, phone: str, values: Mapping[str, Any], tracking_id: str) -> str | None:
        """Send the template to `phone`; Zalo's message id. `tracking_id` is ours (unique)."""
        if self.config.zns_template_id is None:
            raise ZnsConfigError("ZALO_OA_ZNS_TEMPLATE_ID is not set")
        body = await self.api.post(
            self.config.zns_url,
            {
                "phone": normalise_phone(phone),
                "template_id": self.config.zns_template_id,
                "template_data": self.template_data(values),
                "tracking_id": tracking_id[:48],
            },
            "ZNS template message",
        )
        data = body.get("data")
        return str(data.get("msg_id")) if isinstance(data, dict) and data.get("msg_id") else None
