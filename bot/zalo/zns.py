"""ZNS: an approved template message to a phone number, for citizens who never chatted.

Used for notices such as apologies for a late dossier. The template id and the
mapping from the template's parameters to our field names are settings
(ZALO_OA_ZNS_TEMPLATE_ID, ZALO_OA_ZNS_PARAMS), because templates are approved by
Zalo per OA and their parameter names are chosen by whoever registered them.
A phone number is personal data: it is sent to Zalo and never logged, nor put in
an error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.phones import PhoneNumberError, normalise_phone
from bot.settings import ZaloOASettings
from bot.zalo.oa_api import ZaloOAApi

__all__ = ["PhoneNumberError", "ZnsClient", "ZnsConfigError", "normalise_phone"]


class ZnsConfigError(ValueError):
    """ZNS is not configured, or the values lack a field the template needs."""


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
            platform="zns",
        )
        data = body.get("data")
        return str(data.get("msg_id")) if isinstance(data, dict) and data.get("msg_id") else None
