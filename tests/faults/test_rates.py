"""Rates at the fake Bot API with two processes stay within the configured budgets.

The budgets are the bot's, not each process's: TELEGRAM_GLOBAL_RATE messages a second
for the bot token (Telegram counts per bot, whatever serves it) and the outbox's share
(OUTBOX_RATE_SHARE x OUTBOX_PLATFORM_RATES["telegram"]) for proactive messages. Two
processes serve 40 citizens answering as fast as they can while 60 notices are sent;
in every 5-second window the accepted message calls must stay within rate x 5 plus
one burst (the token buckets start full).
"""

from __future__ import annotations

import json

import pytest

from tests.builders import make_code, seed_catalog
from tests.fakes.telegram import FakeTelegram
from tests.faults.harness import RETRY, Crowd, Fleet, environment_fast, late_notices, make_due

CITIZENS = 40
NOTICES = 60
FIRST_NOTICE_CHAT = 8000
GLOBAL_RATE = 20.0
OUTBOX_RATE = 10.0  # 0.5 x 20
WINDOW = 5.0

pytestmark = [
    pytest.mark.xdist_group("faults"),
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


async def test_two_processes_stay_within_the_bot_s_budgets(pg_database, tmp_path):
    code = await make_code(pg_database, await seed_catalog(pg_database), single_use=False)
    await late_notices(pg_database, NOTICES, FIRST_NOTICE_CHAT)
    environment = environment_fast(
        TELEGRAM_GLOBAL_RATE=GLOBAL_RATE,
        TELEGRAM_CHAT_RATE=1,
        TELEGRAM_CHAT_BURST=4,
        TELEGRAM_BULK_RATE=OUTBOX_RATE,
        OUTBOX_PLATFORM_RATES=json.dumps({"telegram": GLOBAL_RATE}),
        OUTBOX_RATE_SHARE=0.5,
        OUTBOX_BATCH_SIZE=5,
    )
    fake = FakeTelegram(max_connections=200, sticky=True, webhook_retry_delay=RETRY)
    async with fake, Fleet(fake, pg_database, tmp_path, **environment):
        crowd = Crowd(fake, [code] * CITIZENS, questions=4, double_tap_every=CITIZENS + 1)
        await make_due(pg_database)
        await crowd.run(pause=(0.0, 0.1), budget=40)
        notices = set(range(FIRST_NOTICE_CHAT, FIRST_NOTICE_CHAT + NOTICES))
        await fake.wait_until(lambda: all(fake.chat_messages(chat) for chat in notices), within=30)
    overall = fake.busiest(WINDOW)
    proactive = fake.busiest(WINDOW, chats=notices)
    print(
        f"\nbusiest {WINDOW:g} s: {overall} message calls (budget "
        f"{GLOBAL_RATE * WINDOW + GLOBAL_RATE:.0f}), {proactive} notices (budget "
        f"{OUTBOX_RATE * WINDOW + 5:.0f})"
    )
    assert overall <= GLOBAL_RATE * WINDOW + GLOBAL_RATE
    assert proactive <= OUTBOX_RATE * WINDOW + 5  # the pacer's catch-up of five
