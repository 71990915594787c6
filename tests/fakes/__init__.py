"""Fakes of the external platforms (Telegram, Zalo): real aiohttp servers on loopback."""
