"""Small HTTP clients of our own for Zalo: the Bot platform, the OA API v3, OA tokens, ZNS.

Kept apart from the channel adapters (`bot.channels.zalo_bot`, `bot.channels.zalo_oa`)
because notices to citizens (ZNS) use them without any conversation. Every endpoint
is a setting whose default is Zalo's real URL, so tests point them at local fakes.
"""
